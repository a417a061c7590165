# Adapter: paper Table 5 / App. B.3 (PRESTO's hyper-parameters) from the resolved config.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_table5

with job_log(snakemake.log[0], "make_table5"):
    make_table5(snakemake.params.datasets, snakemake.params.presto, snakemake.params.synthetic,
                snakemake.params.stem)
