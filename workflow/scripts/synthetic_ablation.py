# Adapter: the ablation variants of PRESTO on the synthetic data for one seed (the synthetic experiment, one
# factor changed).
from prestorepro.jobs.common import run_script
from prestorepro.jobs.ablation import synthetic_ablation
from prestorepro.jobs.specs import AblationSyntheticJob

run_script(snakemake, AblationSyntheticJob, synthetic_ablation)
