# Adapter: ResNet18 feature maps of one prepared dataset.
from prestorepro.jobs import embed, job_log, set_threads

set_threads(snakemake.threads)
with job_log(snakemake.log[0], "embed") as log:
    config = dict(snakemake.config, embedding=snakemake.params.embedding)
    embed(snakemake.input.data, snakemake.params.dataset, config, snakemake.output.npz, snakemake.output.meta, log)
