# PRESTO reproduction workflow. Run: snakemake --cores 2   (config/config.yaml, the embedded default)
#                               or: snakemake --cores N --configfile config/paper.yaml
from snakemake.utils import min_version

min_version("9.0")


# The embedded default, unless --configfile names another (Snakemake would otherwise deep-merge the
# two, and the paper run would inherit the default's datasets).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# `snakemake --report results/report.html`: the tables and figures with their captions, by experiment.
report: "workflow/report/workflow.rst"


include: "workflow/rules/own_code.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/presto.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/compress.smk"
include: "workflow/rules/coreset.smk"
include: "workflow/rules/ablation.smk"


localrules: all, download_data


rule all:
    input:
        P.all_targets(),


# Every job with parameters also reads its settings stamp (prestorepro.stamps): its parameters, and a
# bring-your-own npz's sha256, in a file rewritten only when they change, so a config edit or a replaced
# input re-runs the job whatever the state of Snakemake's metadata (a tree copied with cp -a, a deleted
# .snakemake/). Added here, after every rule file, so a rule added later gets it too.
for _rule in workflow.rules:
    if len(_rule.params):
        _rule.set_input(settings=settings_of(_rule))
