# Adapter: one (dataset, K, method, seed) run of Table 1.
from prestorepro.jobs import job_log, set_threads, train_table1

set_threads(snakemake.threads)
w = snakemake.wildcards
config = dict(snakemake.config, presto=snakemake.params.presto, table1=snakemake.params.table1,
              components=dict(snakemake.config["components"], widths=snakemake.params.widths))
with job_log(snakemake.log[0], "train_table1") as log:
    train_table1(snakemake.input.features, snakemake.input.meta, snakemake.params.dataset, config, w.method,
                 int(w.k), int(w.seed), snakemake.output.metrics, snakemake.output.assignment,
                 snakemake.params.checkpoint, log, dataset_name=w.dataset)
