# Adapter: results/paper_comparison.md (+ .html for the report) from the table CSVs.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_paper_comparison

with job_log(snakemake.log[0], "make_paper_comparison"):
    make_paper_comparison(tables={k: v for k, v in snakemake.input.items() if k not in ("code", "settings")},
                          sources=snakemake.params.sources, origin=snakemake.params.origin,
                          results=snakemake.params.results, out_md=snakemake.output.md,
                          out_html=snakemake.output.html, predict=snakemake.params.predict)
