# Adapter: PRESTO in sequential mode on the Table-1 partition at K (Table 2, Fig. 3/8).
from prestorepro.experiments.compress import presto_sequential_job
from prestorepro.jobs import job_log, set_threads

set_threads(snakemake.threads)
w = snakemake.wildcards
with job_log(snakemake.log[0], "train_presto_sequential") as log:
    presto_sequential_job(snakemake.input.features, snakemake.input.meta, snakemake.input.assignment,
                          snakemake.input.table1, w.dataset, snakemake.params.dataset, int(w.k), snakemake.params.widths,
                          snakemake.params.presto, snakemake.params.settings, int(w.seed), snakemake.config["device"],
                          snakemake.output.metrics, snakemake.params.checkpoint, log)
