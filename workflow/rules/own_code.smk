# The workflow runs the code of its own checkout, whatever `prestorepro` the active environment would
# import (a copied checkout's .venv still points at the original's src/; a second checkout shares one
# environment): this checkout's src/ goes first on the path here, where the plan and the rules' code
# inputs are computed, and on PYTHONPATH, which every job inherits (local jobs, and SLURM jobs through
# sbatch's exported environment). A workflow without src/ beside its Snakefile uses the installed
# package. Included first: nothing may import prestorepro before this runs.
import os
import sys
from pathlib import Path

OWN_SRC = Path(workflow.basedir).resolve() / "src"
if (OWN_SRC / "prestorepro" / "__init__.py").is_file():
    sys.path.insert(0, str(OWN_SRC))
    os.environ.update(PYTHONPATH=os.pathsep.join(
        [str(OWN_SRC)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != OWN_SRC]))
    loaded = sys.modules.get("prestorepro")
    if loaded is not None and Path(loaded.__file__).resolve().parent != OWN_SRC / "prestorepro":
        # imported before the workflow started (Snakemake's Python API in a process that had imported it)
        raise WorkflowError(
            f"this workflow ({workflow.basedir}) runs its own package, {OWN_SRC / 'prestorepro'}, but this "
            f"Python process already imported prestorepro from {Path(loaded.__file__).resolve().parent}; run "
            "snakemake in a fresh process (the command line does).")
