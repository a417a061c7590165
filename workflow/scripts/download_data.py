# Adapter: verify (and where allowed, download) the raw files of one dataset.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.data import download_data
from prestorepro.jobs.specs import DownloadJob

run_script(snakemake, DownloadJob, download_data)
