# Adapter: a Table-1 method beside PRESTO on the App. C synthetic data (the mixture of experts).
from prestorepro.jobs.common import run_script
from prestorepro.jobs.presto import synthetic_method
from prestorepro.jobs.specs import SyntheticMethodJob

run_script(snakemake, SyntheticMethodJob, synthetic_method)
