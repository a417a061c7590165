# Adapter: paper Table 5 / App. B.3 (PRESTO's hyper-parameters) from the resolved config.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_table5
from prestorepro.jobs.report_specs import Table5Report

run_script(snakemake, Table5Report, make_table5)
