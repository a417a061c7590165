# Adapter: paper Fig. 3 (CIFAR10, PathMNIST) or Fig. 8 (DermaMNIST, SVHN), one row per configured dataset.
from prestorepro.jobs.common import run_script
from prestorepro.jobs.compress import make_tradeoff_figure
from prestorepro.jobs.report_specs import TradeoffReport

run_script(snakemake, TradeoffReport, make_tradeoff_figure)
