"""Download the wheels the GPU check needs on a machine without a package index, into ``.whl/``.

    python benchmarks/gpu/fetch_wheels.py                 # ortools + snakemake and what they need
    python benchmarks/gpu/fetch_wheels.py --no-snakemake  # ortools alone (about 30 MB)

The GPU machine has Python 3.12 with torch, numpy, scipy, scikit-learn, pandas, matplotlib, pyyaml,
psutil, tqdm and nvidia-ml-py, but no snakemake, ortools, k-means-constrained, jsonschema or medmnist.
This walks the requirements of the packages the check needs, as they are installed here (same
versions as this machine's environment), leaves out what the GPU machine already has, and fetches the
rest for CPython 3.12 / manylinux x86_64 (``pip download --only-binary=:all: --no-deps``). A pure-Python
project published only as a source archive is built into a wheel here (``pip wheel --no-deps``).

On the GPU machine::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:src
    python3 benchmarks/gpu/check.py --out "$OUT"
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# what the GPU machine's image already holds (its package list); the check never carries these. protobuf is
# carried anyway: ortools pins a narrow range of it
ON_DEVICE = {
    "absl-py", "attrs", "certifi", "charset-normalizer", "click", "contourpy", "cycler", "filelock", "fonttools",
    "fsspec", "idna", "jinja2", "joblib", "kiwisolver", "markupsafe", "matplotlib", "mpmath", "networkx",
    "numpy", "nvidia-ml-py", "packaging", "pandas", "pillow", "pip", "psutil",
    "pygments", "pyparsing", "python-dateutil", "pyyaml", "requests", "rich", "scikit-learn", "scipy",
    "setuptools", "six", "sympy", "tabulate", "threadpoolctl", "torch", "torchvision", "tqdm", "triton",
    "typing-extensions", "urllib3", "wrapt", "markdown-it-py", "mdurl", "wheel",
}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64", "manylinux_2_24_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64"]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: list[str]) -> dict[str, str]:
    """name -> installed version for ``roots`` and everything they require (markers for Python 3.12 on
    Linux, extras ignored), as installed in this environment."""
    from packaging.markers import Marker  # noqa: F401  (packaging evaluates the markers below)
    from packaging.requirements import Requirement

    env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is not installed here: install the project first (pip install -e .)")
        seen[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            todo.append(req.name)
    return seen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", default=str(ROOT / ".whl"))
    ap.add_argument("--no-snakemake", action="store_true", help="only ortools (PRESTO's assignment step)")
    args = ap.parse_args(argv)
    roots = ["ortools"] + ([] if args.no_snakemake else ["snakemake", "k-means-constrained", "jsonschema"])
    wanted = {n: v for n, v in closure(roots).items() if n not in ON_DEVICE}
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    for name, version in sorted(wanted.items()):
        have = [p for p in dest.glob("*.whl") if norm(p.name.split("-")[0]) == name]
        if have:
            continue
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", *plat, "-d", str(dest), f"{name}=={version}"]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            # published as a source archive only: a pure-Python project builds into a wheel anywhere
            build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), f"{name}=={version}"]
            proc = subprocess.run(build, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"could not fetch {name}=={version}:\n{proc.stderr[-2000:]}")
        print(f"{name}=={version}")
    total = sum(p.stat().st_size for p in dest.glob("*.whl"))
    print(f"{len(list(dest.glob('*.whl')))} wheels, {total / 2**20:.1f} MiB in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
