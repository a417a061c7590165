# Adapter: one (dataset, method, budget point, seed) run of SNIP / GraSP / KD / DGKD (Table 2, Fig. 3/8).
from prestorepro.experiments.compress import train_compress_job
from prestorepro.jobs import job_log, set_threads

set_threads(snakemake.threads)
w = snakemake.wildcards
roles = snakemake.params.roles
models = {r: getattr(snakemake.input, f"guide_{r}") for r in roles}
metrics = {r: getattr(snakemake.input, f"guide_{r}_metrics") for r in roles}
with job_log(snakemake.log[0], "train_compress") as log:
    train_compress_job(snakemake.input.features, snakemake.input.meta, w.dataset, snakemake.params.dataset, w.cmethod,
                       w.point, snakemake.params.settings, snakemake.params.presto_widths, int(w.seed),
                       snakemake.config["device"], models, metrics, snakemake.output.metrics,
                       snakemake.params.checkpoint, log)
