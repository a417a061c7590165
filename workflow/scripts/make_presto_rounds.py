# Adapter: PRESTO's objective, part sizes and moves per round for one dataset.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_presto_rounds

with job_log(snakemake.log[0], "make_presto_rounds"):
    make_presto_rounds(metrics=snakemake.input.metrics,
                       title=f"PRESTO round by round on {snakemake.wildcards.dataset} (Algorithm 1)",
                       stem=snakemake.params.stem, formats=snakemake.params.formats)
