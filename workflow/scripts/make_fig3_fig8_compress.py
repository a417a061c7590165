# Adapter: paper Fig. 3 (CIFAR10, PathMNIST) or Fig. 8 (DermaMNIST, SVHN), one row per configured dataset.
from prestorepro.jobs import job_log
from prestorepro.report.compress import make_tradeoff_figure

with job_log(snakemake.log[0], f"make_{snakemake.wildcards.figure}"):
    make_tradeoff_figure(snakemake.input.metrics, snakemake.params.stem, snakemake.params.formats,
                         title=snakemake.wildcards.figure)
