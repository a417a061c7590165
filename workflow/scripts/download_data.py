# Adapter: verify (and where allowed, download) the raw files of one dataset.
from prestorepro.jobs import download, job_log

with job_log(snakemake.log[0], "download_data") as log:
    download(snakemake.params.dataset, snakemake.params.data_root, snakemake.params.allow_download,
             snakemake.output.manifest, log)
