# Adapter: the coreset table (accuracy, macro-F1, selection and training time, memory) from the metrics files.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.coreset import make_coreset_table

with job_log(snakemake.log[0], "make_coreset_table"):
    make_coreset_table(metrics=snakemake.input.metrics, stem=snakemake.params.stem)
