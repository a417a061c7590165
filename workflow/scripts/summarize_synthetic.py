# Adapter: mean ± std of the synthetic experiment's final numbers over seeds (PRESTO and the methods beside it).
from prestorepro.jobs.common import run_script
from prestorepro.jobs.report import summarize_synthetic
from prestorepro.jobs.report_specs import SyntheticSummary

run_script(snakemake, SyntheticSummary, summarize_synthetic)
