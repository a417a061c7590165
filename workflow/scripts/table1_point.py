# Adapter: a Table-1 run as a point of the compress stage (Table 2, Fig. 3/8): PRESTO at K, the one model.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.compress import table1_point

w, p = snakemake.wildcards, snakemake.params
with job_log(snakemake.log[0], "table1_point") as log:
    table1_point(table1_metrics=snakemake.input.table1, meta=snakemake.input.meta, dataset=w.dataset,
                 dataset_config=p.dataset, method=w.t1method, k=int(w.k), seed=int(w.seed),
                 out_metrics=snakemake.output.metrics, log=log)
