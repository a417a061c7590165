"""The checks of a configuration that a JSON schema cannot express: keys that depend on each other,
numbers a schema's bounds let through (NaN), and K and the leeway against each dataset's training size.
``config.validate_config`` runs ``check_semantics`` after the schema; the data and plan stages call the
size checks for datasets whose size is known only once they are prepared.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

from prestorepro.errors import ConfigError
from prestorepro.sizes import PREPARED_SIZES

# Training-split sizes of SPEC §1 (prestorepro.sizes), used to check K and the leeway before anything runs.
# npz files are checked when they are prepared.
TRAIN_SIZES = {source: sizes[0] for source, sizes in PREPARED_SIZES.items()}


def config_key(path) -> str:
    """A config key as a user writes it: ``presto.k_sweep`` (the top level when empty)."""
    return ".".join(str(p) for p in path) or "(top level)"


def _non_finite(obj, path=()):
    """(key, value) of the first NaN or infinite number in a config (YAML's .nan / .inf pass every
    numeric bound of a schema: comparisons with NaN are false)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return config_key(path), obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _non_finite(v, (*path, k))
        if found:
            return found
    return None


# Snakemake takes a wildcard value ending in one substring repeated 20 times for a runaway recursion
# (PeriodicWildcardError, snakemake.io.PeriodicityDetector): refused here with the reason instead
PERIODIC = re.compile(r"(.+?)\1{19,}$")


def _check_names(config: dict) -> None:
    for name in config["datasets"]:
        m = PERIODIC.search(name)
        if m:
            raise ConfigError(f"config key datasets: dataset name {name!r} ends with {m.group(1)!r} repeated "
                              f"{len(m.group(0)) // len(m.group(1))} times, which Snakemake takes for a runaway "
                              "recursion of its rules (PeriodicWildcardError); shorten the repetition")


def expand_home(config: dict) -> None:
    """``~`` in the config's paths means the home folder, as in a shell (Snakemake would create a folder
    named ``~`` in the working directory)."""
    for key in ("results", "data_root"):
        if isinstance(config.get(key), str) and config[key].startswith("~"):
            config[key] = os.path.expanduser(config[key])
    for ds in config["datasets"].values():
        if isinstance(ds.get("path"), str) and ds["path"].startswith("~"):
            ds["path"] = os.path.expanduser(ds["path"])


def _check_braces(config: dict) -> None:
    """Snakemake reads ``{name}`` in a path as a wildcard: a results tree, data_root or npz path holding a
    brace would fail deep inside the plan (a KeyError naming the text between them)."""
    paths = [("results", config["results"]), ("data_root", config["data_root"])]
    paths += [(f"datasets.{n}.path", d["path"]) for n, d in config["datasets"].items() if "path" in d]
    for key, value in paths:
        if "{" in str(value) or "}" in str(value):
            raise ConfigError(f"config key {key}: {value!r} holds a brace, which Snakemake reads as a wildcard in "
                              "every path made from it; rename the folder or file, or point to it through a "
                              "symbolic link whose path has no braces")


def _check_results(config: dict) -> None:
    results = str(config["results"]).strip()
    if not results or Path(results).resolve() == Path(Path(results).resolve().anchor):
        raise ConfigError(f"config key results: {config['results']!r} would put every output at the file-system "
                          "root; name a folder for the results tree, e.g. results: results")
    if Path(results).exists() and not Path(results).is_dir():
        raise ConfigError(f"config key results: {results} is an existing file, not a folder; name a folder for "
                          "the results tree (or move the file)")


# The checkout this package runs from (src/prestorepro/ -> the checkout root), when it is one: an installed
# package has no Snakefile two levels up, and nothing of its own to protect.
CHECKOUT = Path(__file__).resolve().parents[2]
# Its folders that hold what the workflow tracks as its code and inputs (and the git repository): a results
# tree or data_root there would land beside the package's modules (its data/ and table1/ subpackages), be
# collected by pytest, or be committed. The checkout root itself is refused too: its benchmarks/ and data/
# already mean something else. Any other folder inside the checkout (results/, results-paper/) is fine.
CODE_FOLDERS = (".ci", ".git", ".snakemake", "benchmarks", "config", "docs", "profiles", "src", "tests", "workflow")


def _check_outside_code(config: dict) -> None:
    """``results`` and ``data_root`` (relative to the working directory, as Snakemake reads them; links
    followed) are neither the checkout root nor inside one of its code folders."""
    if not (CHECKOUT / "Snakefile").is_file():
        return
    root = CHECKOUT
    for key, example in (("results", "results"), ("data_root", "data")):
        where = Path(str(config[key])).resolve()
        if where == root:
            raise ConfigError(
                f"config key {key}: {config[key]!r} is the checkout itself ({root}), whose benchmarks/, data/ and "
                f"code folders already mean something else; name a folder inside it ({key}: {example}) or "
                "anywhere outside it")
        if where.is_relative_to(root) and where.relative_to(root).parts[0] in CODE_FOLDERS:
            folder = where.relative_to(root).parts[0]
            raise ConfigError(
                f"config key {key}: {config[key]!r} is inside the checkout's {folder}/ folder ({root / folder}), "
                f"where the workflow's outputs would land beside its own code, tests or git repository; name a "
                f"folder outside {', '.join(f + '/' for f in CODE_FOLDERS)} (e.g. {key}: {example}, or a path "
                "outside the checkout)")


def partition_ks(config: dict, name: str) -> dict[int, str]:
    """Every K the dataset ``name`` is partitioned into, with the config key that asks for it."""
    ks = {config["datasets"][name]["k"]: f"datasets.{name}.k"}
    for k in config["presto"]["k_sweep"]:
        ks.setdefault(k, "presto.k_sweep")
    if "presto" in config["compress"]["methods"]:
        for k in config["compress"]["presto_k_sweep"]:
            ks.setdefault(k, "compress.presto_k_sweep")
    return dict(sorted(ks.items()))


def check_part_sizes(name: str, dataset: dict, ks: dict, n: int) -> None:
    """K parts of N training points within the leeway, for every K in ``ks`` (K -> its config key):
    at config time for the known datasets, when the file is prepared for a bring-your-own one."""
    from prestorepro.presto.assignment import InfeasibleConstraintError, size_bounds

    for k, origin in ks.items():
        try:
            size_bounds(n, int(k), dataset["leeway"])
        except InfeasibleConstraintError as exc:
            raise ConfigError(f"config key datasets.{name}.leeway / {origin}: {exc}") from None


def check_prepared_sizes(config: dict) -> None:
    """K and leeway of every bring-your-own dataset already prepared in the results tree, against its
    training size (its prepare job checked the dataset's own K; the sweeps' Ks are checked here, when
    the workflow is parsed, before anything runs)."""
    import json

    for name, ds in config["datasets"].items():
        meta = Path(config["results"]) / "data" / name / "prepared.meta.json"
        if ds["source"] != "npz" or not meta.is_file():
            continue
        try:
            n = int(json.loads(meta.read_text())["split_sizes"]["train"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable sidecar is the prepare job's to report (it re-runs)
        check_part_sizes(name, ds, partition_ks(config, name), n)


def _check_pb_budget(config: dict, name: str, ds: dict, n: int) -> None:
    """GRAD-MATCH-PB selects whole mini-batches: its smallest budget must hold one batch."""
    cs = config["coreset"]
    if "gradmatch_pb" not in cs["methods"]:
        return
    fractions = list(cs["fractions"]) + ([1.0 / ds["k"]] if cs["one_over_k"] else [])
    budget = int(round(min(fractions) * n))
    if budget < 2:  # the smallest batch_size the schema allows: no batch size fits
        raise ConfigError(
            f"config key coreset.fractions: GRAD-MATCH-PB selects whole mini-batches, but its smallest budget on "
            f"dataset {name} is {budget} point(s) ({min(fractions):g} of about {n}), less than a batch of 2; raise "
            "coreset.fractions or drop gradmatch_pb")
    if budget < cs["batch_size"]:
        raise ConfigError(
            f"config key coreset.batch_size: GRAD-MATCH-PB selects whole mini-batches of {cs['batch_size']} points, "
            f"but its smallest budget on dataset {name} is {budget} points ({min(fractions):g} of about {n}); "
            f"lower coreset.batch_size to at most {budget}, raise coreset.fractions, or drop gradmatch_pb")


def check_semantics(config: dict) -> None:
    from prestorepro.presto.assignment import InfeasibleConstraintError, size_bounds

    bad = _non_finite(config)
    if bad:
        raise ConfigError(f"config key {bad[0]}: {bad[1]!r} is not a finite number; give a finite value")
    _check_names(config)
    _check_braces(config)
    _check_results(config)
    _check_outside_code(config)

    for name, ds in config["datasets"].items():
        src = ds["source"]
        if (src == "npz") != ("path" in ds):
            raise ConfigError(
                f"config key datasets.{name}.path: "
                + ("a dataset with source npz needs path: <file in MedMNIST layout>" if src == "npz"
                   else f"path is only used with source npz, not {src!r}; remove it")
            )
        if (src == "standin") != ("like" in ds) or ("scale" in ds and src != "standin"):
            key = "like" if (src == "standin") != ("like" in ds) else "scale"
            raise ConfigError(
                f"config key datasets.{name}.{key}: "
                + ("a dataset with source standin needs like: cifar10 | svhn | pathmnist | dermamnist"
                   if src == "standin" else f"{key} is only used with source standin, not {src!r}; remove it")
            )
        if src == "synthetic":
            continue
        n = train_size(ds)
        if n is not None:
            check_part_sizes(name, ds, partition_ks(config, name), n)
            _check_pb_budget(config, name, ds, n)
    labels: dict[str, float] = {}
    for f in config["coreset"]["fractions"]:
        # a fraction's outputs are named by its label (f0.3): two fractions with one label would overwrite each other
        if f"{f:g}" in labels:
            raise ConfigError(f"config key coreset.fractions: {labels[f'{f:g}']!r} and {f!r} both name their outputs "
                              f"f{f:g}; keep one of them")
        labels[f"{f:g}"] = f
    seeds = set(config["seeds"])
    for key in ("ablation",):
        extra = sorted(set(config[key]["seeds"]) - seeds)
        if extra:
            raise ConfigError(f"config key {key}.seeds: {extra} are not among seeds {sorted(seeds)}; the "
                              f"ablation's configured setting is the seed's Table-1 / synthetic run")
    cmp = config["compress"]
    from prestorepro.catalogue import TABLE1_ROLES, method as catalogue_method

    for key in cmp["methods"]:
        if catalogue_method("compress", key).role in TABLE1_ROLES and key not in config["table1"]["methods"]:
            raise ConfigError(f"config key compress.methods: {key}'s Table-2 row is its Table-1 run; add {key} to "
                              f"table1.methods or remove it from compress.methods")
    if cmp["prune_at"] == "trained" and cmp["reference_epochs"] < 1:
        raise ConfigError("config key compress.reference_epochs: prune_at: trained needs a trained reference "
                          f"network, but reference_epochs is {cmp['reference_epochs']}; set it >= 1")
    ranges = {"student_param_scale": cmp["student_param_scale"],
              **{f"student_param_range.{src}": r for src, r in cmp["student_param_range"].items()}}
    for key, (low, high) in ranges.items():
        if low > high:
            raise ConfigError(f"config key compress.{key}: [{low}, {high}] is not a range [low, high]; write the "
                              "smaller value first")
    presto = config["presto"]
    from prestorepro.presto.rules import REASSIGN_RULES

    has_synthetic = any(d["source"] == "synthetic" for d in config["datasets"].values())
    if REASSIGN_RULES[presto["reassign"]][0] != "bound" and has_synthetic:
        raise ConfigError(f"config key presto.reassign: {presto['reassign']!r} scores with a combiner over the "
                          "components' class logits, which the synthetic experiment's linear SVMs do not have; use "
                          "bound or bound_greedy, or run the authors' score through ablation.factors.reassign "
                          "(image datasets only)")
    greedy = [v for v in [presto["reassign"], *config["ablation"]["factors"].get("reassign", [])]
              if REASSIGN_RULES.get(v, ("", ""))[1] == "greedy"]
    if greedy and presto["max_moves"] < 1:
        raise ConfigError(f"config key presto.max_moves: {presto['max_moves']} bounds the moves per round, which the "
                          f"greedy assignment of reassign {greedy[0]!r} cannot; set max_moves: 1.0 or drop {greedy[0]!r}")
    syn = config["synthetic"]
    late = [r for r in syn["snapshot_rounds"] if r > syn["rounds"]]
    if late and has_synthetic:
        raise ConfigError(f"config key synthetic.snapshot_rounds: round(s) {late} come after the last of the "
                          f"synthetic.rounds: {syn['rounds']} rounds, so no panel could show them; draw rounds "
                          f"<= {syn['rounds']} or raise synthetic.rounds")
    if syn["n"] % 4:
        raise ConfigError(f"config key synthetic.n: {syn['n']} is not a multiple of 4 (four equal components, App. C)")
    if has_synthetic:
        n_train = int(0.8 * syn["n"])  # the 80/10/10 split of App. C (stratified: within a few points)
        try:
            size_bounds(n_train, syn["k"], syn["leeway"])
        except InfeasibleConstraintError as exc:
            raise ConfigError(f"config key synthetic.k / synthetic.leeway (about {n_train} training points): "
                              f"{exc}") from None


def paper_dataset(ds: dict) -> str:
    """The paper dataset a dataset config is, or stands in for (``like`` of a stand-in): the key of the
    per-dataset settings the paper gives (compress budgets, figure membership, training sizes)."""
    return ds["like"] if ds["source"] == "standin" else ds["source"]


def train_size(ds: dict) -> int | None:
    """Training-split size of a dataset config when known before preparing it (None for npz files)."""
    if ds["source"] == "standin":
        from prestorepro.data.standin import standin_sizes

        n = standin_sizes(ds["like"], ds.get("scale", 1.0))[0]
    else:
        n = TRAIN_SIZES.get(ds["source"])
    if n is not None and "max_train" in ds:
        n = min(n, ds["max_train"])
    return n
