# Adapter: the synthetic experiment's numbers (App. C, Fig. 6) against the paper's.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_synthetic_table

with job_log(snakemake.log[0], "make_synthetic_table"):
    make_synthetic_table(summary=snakemake.input.summary, prepared_meta=snakemake.input.prepared_meta,
                         stem=snakemake.params.stem)
