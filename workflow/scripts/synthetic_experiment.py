# Adapter: PRESTO with linear SVM components on the App. C synthetic data.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.presto import synthetic_experiment
from prestorepro.jobs.specs import SyntheticJob

run_script(snakemake, SyntheticJob, synthetic_experiment)
