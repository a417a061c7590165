# Adapter: mean ± std of the synthetic experiment's final numbers over seeds.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import summarize_synthetic

with job_log(snakemake.log[0], "summarize_synthetic"):
    summarize_synthetic(snakemake.input.metrics, snakemake.output[0])
