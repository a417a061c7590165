# Adapter: one (dataset, method, budget point, seed) run of SNIP / GraSP / KD / DGKD (Table 2, Fig. 3/8).
from prestorepro.jobs.common import run_script
from prestorepro.jobs.compress import train_compress
from prestorepro.jobs.specs import CompressJob

run_script(snakemake, CompressJob, train_compress)
