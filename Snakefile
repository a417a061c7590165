# PRESTO reproduction workflow. Run: snakemake --cores 2   (config/config.yaml, the embedded default)
#                               or: snakemake --cores N --configfile config/paper.yaml
configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/presto.smk"
include: "workflow/rules/report.smk"


localrules: all, download_data


rule all:
    input:
        all_targets(),
