# Adapter: ResNet18 feature maps of one prepared dataset.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.embed import embed
from prestorepro.jobs.specs import EmbedJob

run_script(snakemake, EmbedJob, embed)
