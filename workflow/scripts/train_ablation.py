# Adapter: the ablation variants of PRESTO on one image dataset and seed (Table-1 PRESTO runs, one factor changed).
from prestorepro.jobs.common import run_script
from prestorepro.jobs.ablation import train_ablation
from prestorepro.jobs.specs import AblationImageJob

run_script(snakemake, AblationImageJob, train_ablation)
