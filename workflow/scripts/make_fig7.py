# Adapter: paper Fig. 7 (accuracy and macro-F1 against K) and its table.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_fig7
from prestorepro.jobs.report_specs import Fig7Report

run_script(snakemake, Fig7Report, make_fig7)
