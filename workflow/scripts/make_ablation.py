# Adapter: the ablation table and figure from the runs' metrics files.
from prestorepro.jobs import job_log
from prestorepro.report.ablation import make_ablation

p = snakemake.params
with job_log(snakemake.log[0], "make_ablation"):
    make_ablation(p.layout, p.datasets, p.presto, p.table_stem, p.figure_stem, p.formats)
