# Adapter: verify (and where allowed, download) the raw files of one dataset.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.data import download_data

p = snakemake.params
with job_log(snakemake.log[0], "download_data") as log:
    download_data(dataset_config=p.dataset, data_root=p.data_root, allow_download=p.allow_download,
                  manifest=snakemake.output.manifest, log=log)
