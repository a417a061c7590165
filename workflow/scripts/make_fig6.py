# Adapter: paper Fig. 6 snapshots of the synthetic experiment.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_fig6

with job_log(snakemake.log[0], "make_fig6"):
    make_fig6(snakemake.input.rounds, snakemake.input.metrics, snakemake.params.snapshot_rounds,
              snakemake.params.stem, snakemake.params.formats)
