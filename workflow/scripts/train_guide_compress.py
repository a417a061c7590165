# Adapter: one guide network (KD/DGKD teacher, DGKD assistant, pruning reference) of the compress stage.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.compress import train_guide
from prestorepro.jobs.specs import GuideJob

run_script(snakemake, GuideJob, train_guide)
