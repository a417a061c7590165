# Adapter: paper Table 5 / App. B.3 (PRESTO's hyper-parameters) from the resolved config.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_table5

with job_log(snakemake.log[0], "make_table5"):
    make_table5(datasets=snakemake.params.datasets, presto=snakemake.params.presto,
                synthetic=snakemake.params.synthetic, stem=snakemake.params.stem)
