# Adapter: PRESTO in sequential mode on the Table-1 partition at K (Table 2, Fig. 3/8).
from prestorepro.jobs.common import job_log, set_threads
from prestorepro.jobs.compress import train_presto_sequential

set_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "train_presto_sequential") as log:
    train_presto_sequential(features=snakemake.input.features, meta=snakemake.input.meta,
                            assignment=snakemake.input.assignment, table1_metrics=snakemake.input.table1,
                            dataset=w.dataset, dataset_config=p.dataset, k=int(w.k), widths=p.widths,
                            presto=p.presto, settings=p.settings, seed=int(w.seed), device=p.device,
                            out_metrics=snakemake.output.metrics, checkpoint=p.checkpoint, log=log)
