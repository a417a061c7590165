# The workflow runs the code of its own checkout, whatever `prestorepro` the active environment would
# import (a copied checkout's .venv still points at the original's src/; a second checkout shares one
# environment): this checkout's src/ goes first on the path here, where the plan and the rules' code
# inputs are computed, and on PYTHONPATH, which every job inherits (local jobs, and SLURM jobs through
# sbatch's exported environment). The checkout is found from this file's own folder
# (workflow.current_basedir), which is also right when another workflow loads this one as a module
# (workflow.basedir is then the caller's folder). A workflow read from GitHub or GitLab (a github()
# module, as snakedeploy writes) runs the src/ of the same commit, unpacked once from Snakemake's clone
# of the repository. Any other source without src/ beside it uses the installed package, named in the
# log. Included first: nothing may import prestorepro before this runs.
import importlib.util
import os
import sys
import tarfile
import tempfile
from pathlib import Path

from snakemake.logging import logger
from snakemake.sourcecache import HostingProviderFile, LocalSourceFile

RULES_DIR = workflow.current_basedir  # workflow/rules, as a Snakemake source (a local folder or a git path)


def package_from_repository(source):
    """The src/ folder of the repository a github()/gitlab() workflow is read from, at the workflow's own
    commit: unpacked (git archive) from Snakemake's clone into its source cache, once per commit."""
    repo = source.hosted_repo.repo  # Snakemake's bare clone, made when it read the Snakefile
    sha = repo.commit(source.ref).hexsha
    target = Path(workflow.sourcecache.cache_path) / "prestorepro-src" / sha
    if not (target / "prestorepro" / "__init__.py").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            archive = Path(tmp) / "src.tar"
            with open(archive, "wb") as stream:
                repo.archive(stream, treeish=sha, path="src")
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            try:
                os.replace(Path(tmp) / "src", target)  # atomic: a concurrent start unpacks the same files
            except OSError:
                if not (target / "prestorepro" / "__init__.py").is_file():
                    raise
    return target


if isinstance(RULES_DIR, LocalSourceFile):
    CHECKOUT = Path(RULES_DIR.get_path_or_uri(secret_free=True)).resolve().parents[1]
    OWN_SRC = CHECKOUT / "src"
elif isinstance(RULES_DIR, HostingProviderFile):
    CHECKOUT = None
    OWN_SRC = package_from_repository(RULES_DIR)
    if workflow.is_main_process:
        logger.info(f"prestorepro: the package of {RULES_DIR.repo}@{RULES_DIR.ref}, unpacked at {OWN_SRC}")
else:
    CHECKOUT = OWN_SRC = None
if OWN_SRC is not None and (OWN_SRC / "prestorepro" / "__init__.py").is_file():
    sys.path.insert(0, str(OWN_SRC))
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            [str(OWN_SRC)]
            + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != OWN_SRC]
        )
    )
    loaded = sys.modules.get("prestorepro")
    if loaded is not None and Path(loaded.__file__).resolve().parent != OWN_SRC / "prestorepro":
        # imported before the workflow started (Snakemake's Python API in a process that had imported it)
        raise WorkflowError(
            f"this workflow ({CHECKOUT or RULES_DIR}) runs its own package, {OWN_SRC / 'prestorepro'}, but this "
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
        # the rules' environment (workflow/envs/prestorepro.yaml) holds the dependencies; the package
        # reaches the jobs through PYTHONPATH from the workflow's own src/, which this source lacks
        raise WorkflowError(
            f"--use-conda with a workflow read from {RULES_DIR}: the jobs' conda environment would not "
            "have the prestorepro package (a checkout, a module by path, or a github()/gitlab() module "
            "brings its own src/; this source does not). Run without --use-conda in the environment where "
            "the package is installed, or load the workflow from a checkout or with github()."
        )
    if workflow.is_main_process:
        logger.info(
            f"prestorepro: no src/ beside {RULES_DIR}; using the installed package at "
            f"{Path(_installed.origin).parent}"
        )
