# Adapter: results/paper_comparison.md (+ .html for the report) from the table CSVs.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_paper_comparison

with job_log(snakemake.log[0], "make_paper_comparison"):
    tables = {k: v for k, v in snakemake.input.items() if k != "code"}
    make_paper_comparison(tables, snakemake.params.sources, snakemake.params.origin, snakemake.params.results,
                          snakemake.output.md, snakemake.output.html)
