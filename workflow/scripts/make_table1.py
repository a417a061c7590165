# Adapter: Table 1 from the per-run metrics files.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_table1

with job_log(snakemake.log[0], "make_table1"):
    make_table1(snakemake.input.metrics, snakemake.params.stem)
