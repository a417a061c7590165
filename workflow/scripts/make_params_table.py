# Adapter: parameter counts of PRESTO per dataset against the paper's.
from prestorepro.jobs.common import job_log
from prestorepro.jobs.report import make_params_table

with job_log(snakemake.log[0], "make_params_table"):
    make_params_table(sidecars=dict(zip(snakemake.params.names, snakemake.input.sidecars)),
                      datasets=snakemake.params.datasets, widths=snakemake.params.widths,
                      gate_input=snakemake.params.gate_input, stem=snakemake.params.stem)
