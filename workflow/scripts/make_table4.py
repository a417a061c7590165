# Adapter: paper Table 4 (dataset statistics) from the prepared datasets' meta files.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_table4

with job_log(snakemake.log[0], "make_table4"):
    metas = dict(zip(snakemake.params.names, snakemake.input.metas))
    make_table4(metas, snakemake.params.sources, snakemake.params.stem)
