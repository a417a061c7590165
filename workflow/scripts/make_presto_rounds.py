# Adapter: PRESTO's objective, part sizes and moves per round for one dataset.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_presto_rounds

with job_log(snakemake.log[0], "make_presto_rounds"):
    d = snakemake.wildcards.dataset
    make_presto_rounds(snakemake.input.metrics, f"PRESTO round by round on {d} (Algorithm 1)",
                       snakemake.params.stem, snakemake.params.formats)
