# Adapter: one (dataset, K, method, seed) run of Table 1.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.presto import train_table1
from prestorepro.jobs.specs import Table1Job

run_script(snakemake, Table1Job, train_table1)
