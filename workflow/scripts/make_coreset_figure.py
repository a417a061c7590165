# Adapter: accuracy against selection + training time for one dataset's coreset runs.
from prestorepro.jobs import job_log
from prestorepro.report.coreset import make_coreset_figure

with job_log(snakemake.log[0], "make_coreset_figure"):
    make_coreset_figure(snakemake.input.metrics, snakemake.wildcards.dataset, snakemake.params.stem,
                        snakemake.params.formats)
