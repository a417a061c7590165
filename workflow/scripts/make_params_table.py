# Adapter: parameter counts of PRESTO per dataset against the paper's.
from prestorepro.jobs import job_log
from prestorepro.report.jobs import make_params

with job_log(snakemake.log[0], "make_params_table"):
    sidecars = dict(zip(snakemake.params.names, snakemake.input.sidecars))
    make_params(sidecars, snakemake.params.datasets, snakemake.params.widths,
                snakemake.params.gate_input, snakemake.params.stem)
