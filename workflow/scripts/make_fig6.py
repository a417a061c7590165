# Adapter: paper Fig. 6 snapshots of the synthetic experiment.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_fig6

with job_log(snakemake.log[0], "make_fig6"):
    make_fig6(rounds=snakemake.input.rounds, metrics=snakemake.input.metrics,
              snapshot_rounds=snakemake.params.snapshot_rounds, stem=snakemake.params.stem,
              formats=snakemake.params.formats)
