# Adapter: Table 2 from the per-run metrics files of the compress stage.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.compress import make_table2
from prestorepro.jobs.report_specs import Table2Report

run_script(snakemake, Table2Report, make_table2)
