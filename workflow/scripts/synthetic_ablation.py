# Adapter: the ablation variants of PRESTO on the synthetic data for one seed (the synthetic experiment, one
from prestorepro.jobs.ablation import synthetic_ablation
from prestorepro.jobs.common import job_log, set_precision, set_threads

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "synthetic_ablation") as log:
    synthetic_ablation(prepared=snakemake.input.data, dataset=w.synthetic_dataset, dataset_config=p.dataset,
                       variants=p.variants, settings=p.settings, seed=int(w.seed), device=p.device,
                       out_metrics=list(snakemake.output.metrics), out_rounds=list(snakemake.output.rounds),
                       checkpoint_dir=p.checkpoint_dir, log=log)
