"""Configuration: JSON-schema validation with defaults, plus the checks a schema cannot express.

Every error names the offending key, its value and what to do, and is raised before any job runs
(``workflow/rules/common.smk`` calls ``validate_config`` when the workflow is parsed).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

import jsonschema
import yaml

from prestorepro.sizes import PREPARED_SIZES

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Training-split sizes of SPEC §1 (prestorepro.sizes), used to check K and the leeway before anything runs.
# npz files are checked when they are prepared.
TRAIN_SIZES = {source: sizes[0] for source, sizes in PREPARED_SIZES.items()}


# Keys of the presto section that define the algorithm (not its budget); the synthetic experiment, which
# has its own budget, runs Algorithm 1 with these too.
ALGORITHM_KEYS = ("alpha", "singleton", "singleton_steps", "singleton_lr", "keep", "max_moves", "gate_input",
                  "gate_epochs", "reassign")


class ConfigError(ValueError):
    """A configuration problem, with the key, the value and the fix."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


DATASET_NAME = "^[A-Za-z0-9][A-Za-z0-9_-]*$"  # a dataset name is a path part of every output


def _is_integer(checker, instance) -> bool:
    # JSON Schema counts 3.0 as an integer; a config value meant as a count, an index or a seed must be
    # written as one (3.0 crashes at parse time, plans "seed0.0", or fails inside a job)
    return isinstance(instance, int) and not isinstance(instance, bool)


def _with_defaults(validator_class):
    # jsonschema validates but does not fill defaults; extend it so every documented default is
    # present in the resolved config (the provenance then records every value actually used).
    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults},
                                        type_checker=validator_class.TYPE_CHECKER.redefine("integer", _is_integer))


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """The config schema, with the method lists filled from the catalogue (``prestorepro.catalogue``):
    the valid values of ``table1.methods``, ``compress.methods`` and ``coreset.methods`` and the default of
    the first two (every method of the stage; the coreset stage runs only when asked), and what a
    dataset's and the synthetic data's ``init`` may name."""
    from prestorepro.catalogue import keys, presto_initialisations

    schema = yaml.safe_load(Path(path).read_text())
    props = schema["properties"]
    for stage in ("table1", "compress", "coreset"):
        entry = props[stage]["properties"]["methods"]
        entry["items"]["enum"] = keys(stage)
        if stage != "coreset":
            entry["default"] = keys(stage)
    props["datasets"]["additionalProperties"]["properties"]["init"]["enum"] = presto_initialisations()
    props["synthetic"]["properties"]["init"]["enum"] = presto_initialisations()
    return schema


def _message(err: jsonschema.ValidationError) -> str:
    key = _key(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"config key {key}: unknown key(s) {', '.join(map(repr, extra))}{hint}"
    if err.validator == "enum":
        return (f"config key {key}: {err.instance!r} is not valid; "
                f"valid values are: {', '.join(map(str, err.validator_value))}")
    if err.validator == "required":
        return f"config key {key}: {err.message}"
    if err.validator == "type":
        whole = " (write a whole number without a decimal point)" if err.validator_value == "integer" else ""
        return f"config key {key}: {err.instance!r} has the wrong type, expected {err.validator_value}{whole}"
    if err.validator == "pattern" and err.validator_value == DATASET_NAME:
        return (f"config key {key}: dataset name {err.instance!r} is not allowed: it becomes a folder of every "
                "output path, so it must be letters, digits, _ and - only, starting with a letter or digit")
    return f"config key {key}: {err.message}"


def section_defaults(section: str) -> dict:
    """The schema's defaults of one top-level section (every key that has one)."""
    config = {section: {}}
    validator = _with_defaults(jsonschema.Draft202012Validator)(
        {"type": "object", "properties": {section: load_schema()["properties"][section]}})
    for _ in validator.iter_errors(config):
        pass
    return config[section]


def _every_method(config: dict) -> None:
    """``<stage>.methods: all`` is every method of the stage in the catalogue (a new method runs without
    a config edit)."""
    from prestorepro.catalogue import keys

    for stage in ("table1", "compress", "coreset"):
        section = config.get(stage)
        if isinstance(section, dict) and section.get("methods") == "all":
            section["methods"] = keys(stage)


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place (filling defaults) and return it; raise ConfigError otherwise."""
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping of keys to values, got {type(config).__name__}")
    schema = schema or load_schema()
    _every_method(config)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        lines = [_message(e) for e in errors[:8]]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    _check_semantics(config)
    return config


def _non_finite(obj, path=()):
    """(key, value) of the first NaN or infinite number in a config (YAML's .nan / .inf pass every
    numeric bound of a schema: comparisons with NaN are false)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return _key(path), obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _non_finite(v, (*path, k))
        if found:
            return found
    return None


def _check_results(config: dict) -> None:
    results = str(config["results"]).strip()
    if not results or Path(results).resolve() == Path(Path(results).resolve().anchor):
        raise ConfigError(f"config key results: {config['results']!r} would put every output at the file-system "
                          "root; name a folder for the results tree, e.g. results: results")
    if Path(results).exists() and not Path(results).is_dir():
        raise ConfigError(f"config key results: {results} is an existing file, not a folder; name a folder for "
                          "the results tree (or move the file)")


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
    if budget < cs["batch_size"]:
        raise ConfigError(
            f"config key coreset.batch_size: GRAD-MATCH-PB selects whole mini-batches of {cs['batch_size']} points, "
            f"but its smallest budget on dataset {name} is {budget} points ({min(fractions):g} of about {n}); "
            f"lower coreset.batch_size to at most {budget}, raise coreset.fractions, or drop gradmatch_pb")


def _check_semantics(config: dict) -> None:
    from prestorepro.presto.assignment import InfeasibleConstraintError, size_bounds

    bad = _non_finite(config)
    if bad:
        raise ConfigError(f"config key {bad[0]}: {bad[1]!r} is not a finite number; give a finite value")
    _check_results(config)

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
    seeds = set(config["seeds"])
    for key in ("ablation",):
        extra = sorted(set(config[key]["seeds"]) - seeds)
        if extra:
            raise ConfigError(f"config key {key}.seeds: {extra} are not among seeds {sorted(seeds)}; the "
                              f"ablation's configured setting is the seed's Table-1 / synthetic run")
    cmp = config["compress"]
    if "presto" in cmp["methods"] and "presto" not in config["table1"]["methods"]:
        raise ConfigError("config key compress.methods: presto needs the Table-1 PRESTO runs for its partition; "
                          "add presto to table1.methods or remove it from compress.methods")
    if cmp["prune_at"] == "trained" and cmp["reference_epochs"] < 1:
        raise ConfigError("config key compress.reference_epochs: prune_at: trained needs a trained reference "
                          f"network, but reference_epochs is {cmp['reference_epochs']}; set it >= 1")
    presto = config["presto"]
    from prestorepro.presto.settings import REASSIGN_RULES

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


def dataset_names(config: dict, *, images_only: bool = False) -> list[str]:
    return [n for n, d in config["datasets"].items() if not (images_only and d["source"] == "synthetic")]


def load_config(path: str | Path) -> dict:
    try:
        cfg = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return validate_config(cfg)
