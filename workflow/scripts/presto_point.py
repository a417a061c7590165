# Adapter: PRESTO's point at K of the compress stage (Table 2, Fig. 3/8), from its Table-1 run.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.compress import presto_point

w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "presto_point") as log:
    presto_point(table1_metrics=snakemake.input.table1, meta=snakemake.input.meta, dataset=w.dataset,
                 dataset_config=p.dataset, k=int(w.k), seed=int(w.seed), out_metrics=snakemake.output.metrics,
                 log=log)
