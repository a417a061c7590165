# Adapter: Table 1 from the per-run metrics files.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_table1
from prestorepro.jobs.report_specs import Table1Report

run_script(snakemake, Table1Report, make_table1)
