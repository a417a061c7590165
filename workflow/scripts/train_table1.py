# Adapter: one (dataset, K, method, seed) run of Table 1.
from prestorepro.jobs.common import job_log, set_precision, set_threads
from prestorepro.jobs.presto import train_table1

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "train_table1") as log:
    train_table1(features=snakemake.input.features, meta=snakemake.input.meta, dataset=w.dataset,
                 dataset_config=p.dataset, method=w.method, k=int(w.k), seed=int(w.seed), presto=p.presto,
                 table1=p.table1, widths=p.widths, embedding=p.embedding, device=p.device,
                 out_metrics=snakemake.output.metrics, out_assignment=snakemake.output.assignment,
                 checkpoint=p.checkpoint, log=log, sequential=p.sequential, options=p.options)
