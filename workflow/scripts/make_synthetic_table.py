# Adapter: the synthetic experiment's numbers (App. C, Fig. 6) against the paper's.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_synthetic_table

with job_log(snakemake.log[0], "make_synthetic_table"):
    make_synthetic_table(snakemake.input.summary, snakemake.input.data, snakemake.params.stem)
