# Adapter: paper Table 4 (dataset statistics) from the prepared datasets' meta files.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_table4

with job_log(snakemake.log[0], "make_table4"):
    make_table4(metas=dict(zip(snakemake.params.names, snakemake.input.metas)), sources=snakemake.params.sources,
                stem=snakemake.params.stem)
