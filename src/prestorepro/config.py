"""Configuration: JSON-schema validation with defaults, then the checks a schema cannot express
(``config_checks``).

Every error names the offending key, its value and what to do, and is raised before any job runs
(``workflow/rules/common.smk`` calls ``validate_config`` when the workflow is parsed).
"""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from prestorepro.config_checks import check_semantics, config_key, expand_home
from prestorepro.errors import ConfigError

# package data: found wherever the package is installed (a wheel, or a workflow used as a module)
SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"

# Keys of the presto section that define the algorithm (not its budget); the synthetic experiment, which
# has its own budget, runs Algorithm 1 with these too.
ALGORITHM_KEYS = ("alpha", "singleton", "singleton_steps", "singleton_lr", "keep", "max_moves", "gate_input",
                  "gate_epochs", "reassign")


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
    key = config_key(err.absolute_path)
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
        elif isinstance(section, dict) and isinstance(section.get("methods"), str):
            one = section["methods"]
            raise ConfigError(f"config key {stage}.methods: {one!r} is one name, not a list of methods; write "
                              f"[{one}] for that method alone, or all for every method of the stage")


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
    expand_home(config)  # ~ is the home folder, as in a shell, before any path is checked
    check_semantics(config)
    return config


def dataset_names(config: dict, *, images_only: bool = False) -> list[str]:
    return [n for n, d in config["datasets"].items() if not (images_only and d["source"] == "synthetic")]


def load_config(path: str | Path) -> dict:
    try:
        cfg = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return validate_config(cfg)
