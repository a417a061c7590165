# Adapter: accuracy against peak training / inference memory for one dataset (paper Fig. 3 / 8 layout).
from prestorepro.jobs import job_log
from prestorepro.report.compress import make_tradeoff_figure

with job_log(snakemake.log[0], "make_tradeoff_figure"):
    make_tradeoff_figure(snakemake.input.metrics, snakemake.params.stem, snakemake.params.formats)
