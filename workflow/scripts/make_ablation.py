# Adapter: the ablation table and figure from the runs' metrics files.
from prestorepro.jobs.ablation import make_ablation
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report_specs import AblationReport

run_script(snakemake, AblationReport, make_ablation)
