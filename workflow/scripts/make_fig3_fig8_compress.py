# Adapter: paper Fig. 3 (CIFAR10, PathMNIST) or Fig. 8 (DermaMNIST, SVHN), one row per configured dataset.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.compress import make_tradeoff_figure

with job_log(snakemake.log[0], f"make_{snakemake.wildcards.figure}"):
    make_tradeoff_figure(metrics=snakemake.input.metrics, stem=snakemake.params.stem,
                         formats=snakemake.params.formats, title=snakemake.wildcards.figure)
