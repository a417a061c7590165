# Adapter: PRESTO's objective, part sizes and moves per round for one dataset.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import make_presto_rounds
from prestorepro.jobs.report_specs import DatasetFigure

run_script(snakemake, DatasetFigure, make_presto_rounds)
