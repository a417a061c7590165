# Adapter: one (dataset, method, seed) of the coreset baselines, every subset fraction of the method.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.coreset import train_coreset
from prestorepro.jobs.specs import CoresetJob

run_script(snakemake, CoresetJob, train_coreset)
