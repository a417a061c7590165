# Adapter: accuracy against selection + training time for one dataset's coreset runs.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.coreset import make_coreset_figure
from prestorepro.jobs.report_specs import DatasetFigure

run_script(snakemake, DatasetFigure, make_coreset_figure)
