# Adapter: the coreset table (accuracy, macro-F1, selection and training time, memory) from the metrics files.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.coreset import make_coreset_table
from prestorepro.jobs.report_specs import CoresetTableReport

run_script(snakemake, CoresetTableReport, make_coreset_table)
