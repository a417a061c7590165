# Adapter: one guide network (KD/DGKD teacher, DGKD assistant, pruning reference) of the compress stage.
from prestorepro.jobs.common import job_log, set_precision, set_threads
from prestorepro.jobs.compress import train_guide

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "train_guide") as log:
    train_guide(features=snakemake.input.features, meta=snakemake.input.meta, dataset=w.dataset,
                dataset_config=p.dataset, role=w.role, settings=p.settings, seed=int(w.seed), device=p.device,
                out_model=snakemake.output.model, out_metrics=snakemake.output.metrics, checkpoint=p.checkpoint,
                log=log)
