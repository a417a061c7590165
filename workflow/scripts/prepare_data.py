# Adapter: split one dataset into train/val/test and store it in the common format.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.data import prepare_data
from prestorepro.jobs.specs import PrepareJob

run_script(snakemake, PrepareJob, prepare_data)
