# Adapter: paper Fig. 6 snapshots of the synthetic experiment.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_fig6
from prestorepro.jobs.report_specs import Fig6Report

run_script(snakemake, Fig6Report, make_fig6)
