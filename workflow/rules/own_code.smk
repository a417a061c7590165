# The workflow runs the code of its own checkout, whatever `prestorepro` the active environment would
# import (a copied checkout's .venv still points at the original's src/; a second checkout shares one
# environment): this checkout's src/ goes first on the path here, where the plan and the rules' code
# inputs are computed, and on PYTHONPATH, which every job inherits (local jobs, and SLURM jobs through
# sbatch's exported environment). The checkout is found from this file's own folder
# (workflow.current_basedir), which is also right when another workflow loads this one as a module
# (workflow.basedir is then the caller's folder). A workflow read from a git repository (a github() or
# gitfile() module, as snakedeploy writes) has no src/ beside it and uses the installed package, named
# in the log. Included first: nothing may import prestorepro before this runs.
import importlib.util
import os
import sys
from pathlib import Path

from snakemake.logging import logger
from snakemake.sourcecache import LocalSourceFile

RULES_DIR = workflow.current_basedir  # workflow/rules, as a Snakemake source (a local folder or a git path)
CHECKOUT = (
    Path(RULES_DIR.get_path_or_uri(secret_free=True)).resolve().parents[1]
    if isinstance(RULES_DIR, LocalSourceFile)
    else None
)
OWN_SRC = CHECKOUT / "src" if CHECKOUT is not None else None
if OWN_SRC is not None and (OWN_SRC / "prestorepro" / "__init__.py").is_file():
    sys.path.insert(0, str(OWN_SRC))
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            [str(OWN_SRC)]
            + [
                p
                for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                if p and Path(p).resolve() != OWN_SRC
            ]
        )
    )
    loaded = sys.modules.get("prestorepro")
    if loaded is not None and Path(loaded.__file__).resolve().parent != OWN_SRC / "prestorepro":
        # imported before the workflow started (Snakemake's Python API in a process that had imported it)
        raise WorkflowError(
            f"this workflow ({CHECKOUT}) runs its own package, {OWN_SRC / 'prestorepro'}, but this "
            f"Python process already imported prestorepro from {Path(loaded.__file__).resolve().parent}; run "
            "snakemake in a fresh process (the command line does)."
        )
else:
    _installed = importlib.util.find_spec("prestorepro")
    if _installed is None:
        raise WorkflowError(
            f"this workflow ({RULES_DIR}) has no src/ beside it and no prestorepro package is installed: "
            "install the package of the same version as the workflow (pip install "
            "'prestorepro @ git+<repository>@<tag>', or pip install -e <checkout>) in the environment "
            "that runs snakemake."
        )
    from snakemake.settings.types import DeploymentMethod

    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        # the rules' environment (workflow/envs/prestorepro.yaml) holds the dependencies, and the package
        # reaches the jobs through PYTHONPATH from a checkout's src/, which a workflow read from git lacks
        raise WorkflowError(
            f"--use-conda with a workflow read from {RULES_DIR}: the jobs' conda environment would not "
            "have the prestorepro package. Run without --use-conda in the environment where the package "
            "is installed, or load the workflow from a checkout (module snakefile: "
            "'<checkout>/workflow/Snakefile')."
        )
    if workflow.is_main_process:
        logger.info(
            f"prestorepro: no src/ beside {RULES_DIR}; using the installed package at "
            f"{Path(_installed.origin).parent}"
        )
