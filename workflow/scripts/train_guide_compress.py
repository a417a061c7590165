# Adapter: one guide network (KD/DGKD teacher, DGKD assistant, pruning reference) of the compress stage.
from prestorepro.experiments.compress import train_guide_job
from prestorepro.jobs import job_log, set_threads

set_threads(snakemake.threads)
w = snakemake.wildcards
with job_log(snakemake.log[0], "train_guide") as log:
    train_guide_job(snakemake.input.features, snakemake.input.meta, w.dataset, snakemake.params.dataset, w.role,
                    snakemake.params.settings, int(w.seed), snakemake.config["device"], snakemake.output.model,
                    snakemake.output.metrics, snakemake.params.checkpoint, log)
