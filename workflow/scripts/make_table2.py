# Adapter: Table 2 from the per-run metrics files of the compress stage.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.compress import make_table2

with job_log(snakemake.log[0], "make_table2"):
    make_table2(metrics=snakemake.input.metrics, stem=snakemake.params.stem, predict=snakemake.params.predict)
