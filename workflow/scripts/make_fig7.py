# Adapter: paper Fig. 7 (accuracy and macro-F1 against K) and its table.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_fig7

with job_log(snakemake.log[0], "make_fig7"):
    make_fig7(snakemake.input.metrics, snakemake.params.table_stem, snakemake.params.figure_stem,
              snakemake.params.formats)
