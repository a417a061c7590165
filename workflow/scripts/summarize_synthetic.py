# Adapter: mean ± std of the synthetic experiment's final numbers over seeds (PRESTO and the methods beside it).
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import summarize_synthetic

with job_log(snakemake.log[0], "summarize_synthetic"):
    summarize_synthetic(metrics=snakemake.input.metrics, methods=snakemake.input.methods,
                        out_json=snakemake.output[0])
