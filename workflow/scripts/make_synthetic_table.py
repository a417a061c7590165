# Adapter: the synthetic experiment's numbers (App. C, Fig. 6) against the paper's.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_synthetic_table
from prestorepro.jobs.report_specs import SyntheticTableReport

run_script(snakemake, SyntheticTableReport, make_synthetic_table)
