# Adapter: one (dataset, method, seed) of the coreset baselines, every subset fraction of the method.
from prestorepro.experiments.coreset import train_coreset
from prestorepro.jobs import job_log, set_threads

set_threads(snakemake.threads)
w = snakemake.wildcards
config = {"coreset": snakemake.params.coreset, "device": snakemake.config["device"],
          "components": dict(snakemake.config["components"], widths=snakemake.params.widths)}
with job_log(snakemake.log[0], "train_coreset") as log:
    train_coreset(snakemake.input.features, snakemake.input.meta, w.dataset, snakemake.params.dataset, config,
                  getattr(w, "coreset_method", "full"), int(w.seed), snakemake.params.fractions,
                  list(snakemake.output.metrics), snakemake.params.checkpoint_dir, log)
