# Adapter: accuracy against peak training / inference memory for one dataset (paper Fig. 3 / 8 layout).
from prestorepro.jobs.common import job_log
from prestorepro.jobs.compress import make_tradeoff_figure

with job_log(snakemake.log[0], "make_tradeoff_figure"):
    make_tradeoff_figure(metrics=snakemake.input.metrics, stem=snakemake.params.stem,
                         formats=snakemake.params.formats)
