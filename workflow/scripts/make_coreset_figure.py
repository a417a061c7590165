# Adapter: accuracy against selection + training time for one dataset's coreset runs.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.coreset import make_coreset_figure

with job_log(snakemake.log[0], "make_coreset_figure"):
    make_coreset_figure(metrics=snakemake.input.metrics, dataset=snakemake.wildcards.dataset,
                        stem=snakemake.params.stem, formats=snakemake.params.formats)
