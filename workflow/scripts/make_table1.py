# Adapter: Table 1 from the per-run metrics files.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_table1

with job_log(snakemake.log[0], "make_table1"):
    make_table1(metrics=snakemake.input.metrics, stem=snakemake.params.stem, predict=snakemake.params.predict)
