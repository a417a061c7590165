# Adapter: Table 2 from the per-run metrics files of the compress stage.
from prestorepro.jobs import job_log
from prestorepro.report.compress import make_table2

with job_log(snakemake.log[0], "make_table2"):
    make_table2(snakemake.input.metrics, snakemake.params.stem)
