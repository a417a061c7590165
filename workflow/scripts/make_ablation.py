# Adapter: the ablation table and figure from the runs' metrics files.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.ablation import make_ablation

with job_log(snakemake.log[0], "make_ablation"):
    make_ablation(layout=snakemake.params.layout, sources=snakemake.params.datasets,
                  presto=snakemake.params.presto, table_stem=snakemake.params.table_stem,
                  figure_stem=snakemake.params.figure_stem, formats=snakemake.params.formats,
                  predict=snakemake.params.predict)
