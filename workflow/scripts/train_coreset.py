# Adapter: one (dataset, method, seed) of the coreset baselines, every subset fraction of the method.
from prestorepro.jobs.common import job_log, set_precision, set_threads
from prestorepro.jobs.coreset import train_coreset

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "train_coreset") as log:
    train_coreset(features=snakemake.input.features, meta=snakemake.input.meta, dataset=w.dataset,
                  dataset_config=p.dataset, coreset=p.coreset, widths=p.widths,
                  method=getattr(w, "coreset_method", "full"), seed=int(w.seed), fractions=p.fractions,
                  device=p.device, out_metrics=list(snakemake.output.metrics), checkpoint_dir=p.checkpoint_dir,
                  log=log)
