# Adapter: one (dataset, method, budget point, seed) run of SNIP / GraSP / KD / DGKD (Table 2, Fig. 3/8).
from prestorepro.jobs.common import job_log, set_precision, set_threads
from prestorepro.jobs.compress import train_compress

set_threads(snakemake.threads)
set_precision(snakemake.params.precision)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "train_compress") as log:
    train_compress(features=snakemake.input.features, meta=snakemake.input.meta, dataset=w.dataset,
                   dataset_config=p.dataset, method=w.cmethod, point=w.point, settings=p.settings,
                   presto_widths=p.presto_widths, seed=int(w.seed), device=p.device,
                   guide_models={r: getattr(snakemake.input, f"guide_{r}") for r in p.roles},
                   guide_metrics={r: getattr(snakemake.input, f"guide_{r}_metrics") for r in p.roles},
                   out_metrics=snakemake.output.metrics, checkpoint=p.checkpoint, log=log)
