# Adapter: results/paper_comparison.md (+ .html for the report) from the table CSVs.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_paper_comparison
from prestorepro.jobs.report_specs import ComparisonReport

run_script(snakemake, ComparisonReport, make_paper_comparison)
