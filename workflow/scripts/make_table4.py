# Adapter: paper Table 4 (dataset statistics) from the prepared datasets' meta files.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_table4
from prestorepro.jobs.report_specs import Table4Report

run_script(snakemake, Table4Report, make_table4)
