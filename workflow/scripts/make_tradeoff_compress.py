# Adapter: accuracy against peak training / inference memory for one dataset (paper Fig. 3 / 8 layout).
from prestorepro.jobs.common import run_script
from prestorepro.jobs.compress import make_tradeoff_figure
from prestorepro.jobs.report_specs import TradeoffReport

run_script(snakemake, TradeoffReport, make_tradeoff_figure)
