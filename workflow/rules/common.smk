# The config check before anything runs, the plan (prestorepro.plan: every setting, file list and input
# function the rules read, from the config alone), wildcard constraints, code inputs, and the report's
# output helpers (they make Snakemake report() objects, so they live here rather than in the package).
import os
from pathlib import Path

from prestorepro.codedeps import closure_by_name
from prestorepro.config import ConfigError, validate_config
from prestorepro.config_checks import check_prepared_sizes
from prestorepro.config_yaml import check_config_file, retype_overrides
from prestorepro.plan import Plan
from prestorepro.jobs import report_specs, specs  # every job's spec: a rule's params are its spec's (.params(P))
from prestorepro.lock import check_results, hold_results
from prestorepro.snakemake_state import check_metadata
from prestorepro.stamps import code_stamp, settings_input

try:
    # duplicate keys and YAML 1.1 forms that Snakemake's loader reads other than written, each with its line
    for _file in workflow.configfiles:
        if Path(_file).is_file():
            check_config_file(_file)
    retype_overrides(config, workflow.config_settings.overwrite_config)
    validate_config(config)
    check_prepared_sizes(config)
    P = Plan(config)
    if workflow.is_main_process:
        # one workflow at a time on a results tree, whichever checkout or working directory it runs from:
        # refused here while another holds it; a plan that runs jobs takes it (stamp_scratch)
        check_results(P.run.results)
        # Snakemake's records in the working directory, before Snakemake reads them
        check_metadata(os.getcwd())
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None


def stamp_scratch():
    """Where this plan writes a stamp that changes: None (the results tree) when it runs jobs, after taking
    the tree's lock; Snakemake's own temporary folder when it only inspects (-n, --summary, --dag,
    --rulegraph, --report: no executor, or the dry-run one), so inspecting writes nothing into the tree.
    Known once Snakemake plans, not when it parses; the jobs' own processes (a SLURM job re-reads the
    Snakefile) write under their main process's lock."""
    if not workflow.is_main_process:
        return None
    if workflow.executor_plugin is None or workflow.dryrun:
        return str(workflow.snakemake_tmp_dir)
    try:
        hold_results(P.run.results, CHECKOUT or RULES_DIR)
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None
    return None


# The jobs' caches (matplotlib's font list, torch's compile cache) go under the results tree rather than
# $HOME and $TMPDIR, unless the user points them elsewhere; every job inherits this environment.
for _var, _sub in (("MPLCONFIGDIR", "matplotlib"), ("TORCHINDUCTOR_CACHE_DIR", "torchinductor")):
    os.environ.setdefault(_var, os.path.join(os.path.abspath(P.run.results), ".cache", _sub))

# Every job runs in this environment under --use-conda (one environment for the one package);
# the path is relative to the files under workflow/rules.
ENV = "../envs/prestorepro.yaml"

R = P.run.results
FORMATS = P.run.formats


wildcard_constraints:
    **P.run.constraints(),


# The code of every job: one code stamp per job script (prestorepro.stamps.code_stamp), holding the
# sha256 of each package module the script's job imports (prestorepro.codedeps), rewritten only when one
# of them changes: editing a module re-runs exactly the jobs that run it (Snakemake does not see edits to
# an imported package otherwise), and the plan lists one code input per job. download_data has none: a
# code edit never re-downloads (its files are verified by checksum whatever the code).
SCRIPTS = RULES_DIR.join("../scripts")


def code_of(script):
    source = SCRIPTS.join(f"{script}.py")
    if isinstance(source, LocalSourceFile):
        closure = closure_by_name(source.get_path_or_uri(secret_free=True))
    else:  # read through Snakemake's source cache (a workflow loaded from a git repository)
        with workflow.sourcecache.open(source) as f:
            text = f.read()
        closure = closure_by_name(f"{script}.py", text.decode() if isinstance(text, bytes) else text)

    def code(wildcards):
        return code_stamp(R, script, closure, stamp_scratch())

    return code


# Report categories, one per experiment (the report's sidebar lists them in this order).
CAT_PAPER = "0. Paper comparison"
CAT_TABLE1 = "1. Table 1: partitioning and mixture baselines"
CAT_K = "2. Fig. 7: accuracy against K"
CAT_ROUNDS = "3. PRESTO round by round"
CAT_COMPRESS = "4. Table 2, Fig. 3 and 8: resource-constrained comparison"
CAT_CORESET = "5. Coreset baselines"
CAT_SYNTHETIC = "6. App. C, Fig. 6: synthetic mixture of SVMs"
CAT_SETUP = "7. Set-up: datasets, hyper-parameters, parameter counts"
CAT_ABLATION = "8. Ablation of PRESTO"


ALL_DATASETS = "All datasets"  # the report's subcategory of a table or figure that is not per dataset


def _shown(category, name, dataset):
    """The report's placement of one table or figure: its experiment (category), its dataset
    (subcategory, a wildcard filled per job) and labels naming it (the report lists them as columns)."""
    labels = {"name": name, "dataset": dataset or ALL_DATASETS}
    return dict(category=category, subcategory=dataset or ALL_DATASETS, labels=labels)


def table_outputs(stem, caption, category, name, dataset=None):
    """CSV, Markdown, LaTeX, and the HTML page the report shows (with its caption, its name and its
    dataset: ``dataset`` is a wildcard such as ``"{dataset}"`` for a table per dataset)."""
    return [report(f"{stem}.html", caption=caption, **_shown(category, name, dataset))] + [
        f"{stem}.{ext}" for ext in ("csv", "md", "tex")
    ]


def figure_outputs(stem, caption, category, name, dataset=None):
    """Every configured format; the report shows the PNG (or the first format) with its caption."""
    shown = "png" if "png" in FORMATS else FORMATS[0]
    place = _shown(category, name, dataset)
    return [report(f"{stem}.{ext}", caption=caption, **place) if ext == shown else f"{stem}.{ext}" for ext in FORMATS]


def config_origin():
    files = [os.path.relpath(f, workflow.basedir) if os.path.isabs(f) else str(f) for f in workflow.configfiles]
    overrides = workflow.config_settings.overwrite_config or {}
    return {"files": files, "overrides": {k: str(v) for k, v in overrides.items()}}


def settings_of(rule):
    """The input function of ``rule``'s settings stamp; download_data's also holds its own files' digests
    (known by its script: a module may rename the rules)."""
    downloads = str(rule.script or "").endswith("download_data.py")
    return settings_input(R, rule, P.run.own_files if downloads else None, stamp_scratch)
