# Adapter: PRESTO with linear SVM components on the App. C synthetic data.
from prestorepro.jobs import job_log, set_threads, synthetic

set_threads(snakemake.threads)
config = dict(snakemake.config, synthetic=snakemake.params.synthetic,
              presto=dict(snakemake.config["presto"], **snakemake.params.algorithm))
with job_log(snakemake.log[0], "synthetic_experiment") as log:
    synthetic(snakemake.input.data, config, int(snakemake.wildcards.seed), snakemake.output.metrics,
              snakemake.output.rounds, snakemake.params.checkpoint, log,
              dataset_name=snakemake.wildcards.dataset)
