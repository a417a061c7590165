# PRESTO reproduction workflow. Run: snakemake --cores 2   (config/config.yaml, the embedded default)
#                               or: snakemake --cores N --configfile config/paper.yaml
# The rules are in workflow/Snakefile (the Snakemake Workflow Catalog's layout, and the file a module or a
# snakedeploy deployment loads); this file includes it so that `snakemake` from the repository root finds
# the workflow as before (Snakemake looks for ./Snakefile first).


include: "workflow/Snakefile"


# An include leaves the including file's default target as it was (none: this file has no rule of its
# own), so the target a bare `snakemake` builds is named here: workflow/Snakefile's `all`.
workflow.default_target = "all"
