# Adapter: the ablation variants of PRESTO on one image dataset and seed (Table-1 PRESTO runs, one factor changed).
from prestorepro.jobs.ablation import train_ablation
from prestorepro.jobs.common import job_log, set_precision, set_threads

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "train_ablation") as log:
    train_ablation(features=snakemake.input.features, meta=snakemake.input.meta, dataset=w.image_dataset,
                   variants=p.variants, settings=p.settings, table1=p.table1, widths=p.widths, embedding=p.embedding,
                   k=int(p.k), seed=int(w.seed), device=p.device, out_metrics=list(snakemake.output.metrics),
                   out_assignments=list(snakemake.output.assignments), checkpoint_dir=p.checkpoint_dir, log=log)
