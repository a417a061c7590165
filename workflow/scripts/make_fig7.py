# Adapter: paper Fig. 7 (accuracy and macro-F1 against K) and its table.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_fig7

with job_log(snakemake.log[0], "make_fig7"):
    make_fig7(metrics=snakemake.input.metrics, table_stem=snakemake.params.table_stem,
              figure_stem=snakemake.params.figure_stem, formats=snakemake.params.formats,
              predict=snakemake.params.predict)
