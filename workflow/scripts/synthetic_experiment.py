# Adapter: PRESTO with linear SVM components on the App. C synthetic data.
from prestorepro.jobs.common import job_log, set_precision, set_threads
from prestorepro.jobs.presto import synthetic_experiment

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "synthetic_experiment") as log:
    synthetic_experiment(prepared=snakemake.input.data, dataset=w.dataset, dataset_config=p.dataset,
                         synthetic=p.synthetic, algorithm=p.algorithm, seed=int(w.seed), device=p.device,
                         out_metrics=snakemake.output.metrics, out_rounds=snakemake.output.rounds,
                         checkpoint=p.checkpoint, log=log)
