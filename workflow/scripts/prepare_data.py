# Adapter: split one dataset into train/val/test and store it in the common format.
from prestorepro.jobs import job_log, prepare

with job_log(snakemake.log[0], "prepare_data") as log:
    prepare(snakemake.params.dataset, snakemake.config, snakemake.output.npz, log)
