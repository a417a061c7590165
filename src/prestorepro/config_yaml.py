"""A config file read as the user meant it: the YAML forms Snakemake's loader accepts silently and reads
otherwise, refused with the file, the line and the fix.

Snakemake loads config files with PyYAML (YAML 1.1), which keeps the last of two equal keys (a second
``presto:`` block replaces the whole first one), reads ``010`` as the octal 8 and ``1:30`` as the
sexagesimal 90, ``yes``/``no``/``on``/``off`` as booleans, and ``1e-3`` (no dot) as a string. The
workflow re-reads every config file with this check before validating the config (workflow/rules/
common.smk). PyYAML has no option for any of these, hence the node walk here."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from prestorepro.errors import ConfigError

_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")  # YAML 1.1 octal (YAML 1.2 and JSON: decimal or an error)
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
_BOOL_WORDS = {"yes", "no", "on", "off"}  # YAML 1.1 booleans that YAML 1.2 reads as strings
_KINDS = {"bool": "a boolean", "int": "an integer", "float": "a number", "null": "null (no value)",
          "timestamp": "a date"}
_EXP_NO_DOT = re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$")  # 1e-3: a string in YAML 1.1, a float elsewhere


def _problems(node: yaml.Node, path: str, out: list[str]) -> None:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            k_line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode):
                if key.tag == "tag:yaml.org,2002:merge":
                    pass
                elif key.value in seen:
                    out.append(f"{path}, line {k_line}: key '{key.value}' appears twice in one mapping (first on line "
                               f"{seen[key.value]}); YAML keeps only the second, so the first is lost: merge the two")
                else:
                    seen[key.value] = k_line
                if key.style is None and key.tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"):
                    kind = _KINDS.get(key.tag.rsplit(":", 1)[-1], key.tag)
                    out.append(f"{path}, line {k_line}: key {key.value} is read as {kind}, not a name; quote it "
                               f"('{key.value}') or rename it")
            else:
                _problems(key, path, out)
            _problems(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _problems(item, path, out)
    elif isinstance(node, yaml.ScalarNode) and node.style is None:
        v = node.value
        if node.tag == "tag:yaml.org,2002:int" and _OCTAL.match(v) and v.strip("+-0_"):
            out.append(f"{path}, line {line}: {v} is read as the octal number {int(v.replace('_', ''), 8)}; "
                       f"write {int(v.replace('_', ''))} (decimal), or '{v}' for a string")
        elif node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and _SEXAGESIMAL.match(v):
            out.append(f"{path}, line {line}: {v} is read as a base-60 number "
                       f"({yaml.safe_load(v)}); quote it ('{v}') if it is a string, or write the number")
        elif node.tag == "tag:yaml.org,2002:bool" and v.lower() in _BOOL_WORDS:
            out.append(f"{path}, line {line}: {v} is read as the boolean {yaml.safe_load(v)}; write "
                       f"{str(yaml.safe_load(v)).lower()}, or '{v}' for a string")
        elif node.tag == "tag:yaml.org,2002:str" and _EXP_NO_DOT.match(v):
            mantissa, exp = re.split("[eE]", v)
            out.append(f"{path}, line {line}: {v} is read as a string, not a number (YAML 1.1 needs a dot); "
                       f"write {mantissa}.0e{exp}")


def check_config_file(path: str | Path) -> None:
    """Raise ConfigError listing every duplicate key, YAML 1.1 octal, base-60 number, yes/no boolean and
    dotless exponent in the YAML file ``path``, each with its line. A JSON file (or anything that is not
    YAML) is left to Snakemake's own loader."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # Snakemake's loader has already read it, or reports it
    if root is None:
        return
    problems: list[str] = []
    _problems(root, str(path), problems)
    if problems:
        raise ConfigError("config file read other than written:\n  " + "\n  ".join(problems))


# YAML 1.2 core-schema scalars, the forms a command line gives (decimal integers, floats, true / false, null)
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _scalar(text: str):
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() in ("null", "~"):
        return None
    return text


def _retype(value):
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, list):
        return [_retype(v) for v in value]
    if isinstance(value, dict):
        return {k: _retype(v) for k, v in value.items()}
    return value


def retype_overrides(config: dict, overrides: dict | None) -> None:
    """Give the values of ``--config`` their types, in ``config`` (where Snakemake merged them).

    Snakemake reads a value it cannot take for an int, a float or True / False with YAML's base loader,
    which makes every scalar a string: ``seeds=[0,1]`` gives ``['0', '1']``, ``presto={rounds: 2}``
    ``{'rounds': '2'}``, ``download=false`` ``'false'``, each then refused as the wrong type. Their
    strings are read here as YAML 1.2 would (decimal integers, floats, true / false, null), so the
    command line means what the same text means in a config file."""
    def apply(node: dict, key, value) -> None:
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            for k, v in value.items():
                apply(node[key], k, v)
        else:
            node[key] = _retype(value)

    for key, value in (overrides or {}).items():
        apply(config, key, value)
