# Adapter: parameter counts of PRESTO per dataset against the paper's.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_params_table
from prestorepro.jobs.report_specs import ParamsReport

run_script(snakemake, ParamsReport, make_params_table)
