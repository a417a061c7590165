# Adapter: a Table-1 method beside PRESTO on the App. C synthetic data (the mixture of experts).
from prestorepro.jobs.common import job_log, set_precision, set_threads
from prestorepro.jobs.presto import synthetic_method

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "synthetic_method") as log:
    synthetic_method(prepared=snakemake.input.data, dataset=w.dataset, dataset_config=p.dataset, method=w.smethod,
                     synthetic=p.synthetic, options=p.options, seed=int(w.seed), device=p.device,
                     out_metrics=snakemake.output.metrics, out_rounds=snakemake.output.rounds,
                     checkpoint=p.checkpoint, log=log)
