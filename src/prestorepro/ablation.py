"""The ablation of PRESTO: one factor at a time away from the configured setting (no torch).

A variant is named ``<factor>-<value>`` (e.g. ``epsilon_scale-10``); ``configured`` is the configured
setting itself (the paper's own value of each factor: ``report.paper.PAPER_SETTING``). Every factor but the gate input changes Algorithm 1 and needs a run of its own; the
gate input is measured on the configured run's own components and partition (the Table-1 and
synthetic jobs train pi_phi on both inputs). The factors (SPEC §4, App. A.3, App. B.3):

    gate_input     what pi_phi reads: x (§2.2, §4.1) or the components' class probabilities
    epsilon_scale  multiple of the dataset's epsilon on the distance term (App. B.3)
    singleton      estimate of G({(i,k)}): the current component's loss, or training on {i} (lines 3-8)
    keep           keep a round only if G decreased (App. A.3), or every round
    alpha          alpha of Eq. 8 (not given by the paper)
    lam_scale      multiple of lambda (App. B.3: 1e-4)
    max_moves      fraction of N that may move per round (§3.2: the whole base; lines 19-21: one point)
    reassign       the proposal step: Algorithm 1's bound solved exactly, or the authors' code's choices --
                   their greedy capacity assignment, their combiner-weight score, its sign (image data
                   only for their score: the synthetic SVMs have no class logits to combine)
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

FACTORS = ("gate_input", "epsilon_scale", "singleton", "keep", "alpha", "lam_scale", "max_moves", "reassign")
# factors whose values are names, not numbers
NAMED = ("gate_input", "singleton", "keep", "reassign")
# reassign values that score with the combiner over class logits: image data only
COMBINER_SCORED = ("authors", "authors_exact", "authors_flipped")
CONFIGURED = "configured"
# factors given as multiples of the configured value
SCALES = ("epsilon_scale", "lam_scale")
def format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def configured_value(factor: str, presto: Mapping) -> Any:
    if factor not in FACTORS:
        raise ValueError(f"unknown ablation factor {factor!r}; valid: {', '.join(FACTORS)}")
    return 1 if factor in SCALES else presto[factor]


def parse_variant(name: str) -> tuple[str, Any]:
    """``"epsilon_scale-10"`` -> ("epsilon_scale", 10.0); ``"singleton-trained"`` -> ("singleton", "trained")."""
    factor, sep, raw = name.partition("-")
    if not sep or factor not in FACTORS:
        raise ValueError(f"ablation variant {name!r} is not <factor>-<value> with factor one of {', '.join(FACTORS)}")
    if factor in NAMED:
        return factor, raw
    return factor, float(raw)


def variants(ablation: Mapping, presto: Mapping) -> list[str]:
    """Every ``<factor>-<value>`` of ``ablation['factors']`` other than the configured value, in factor order."""
    out = []
    factors = ablation["factors"]
    for factor in FACTORS:
        here = configured_value(factor, presto)
        for value in factors.get(factor, []):
            if format_value(value) != format_value(here):
                out.append(f"{factor}-{format_value(value)}")
    return out


def run_variants(ablation: Mapping, presto: Mapping, kind: str | None = None) -> list[str]:
    """The variants that need a run of Algorithm 1 of their own (all but the gate input); with ``kind``
    ("image" or "synthetic"), those that apply to that kind of data (``applies``)."""
    return [v for v in variants(ablation, presto) if parse_variant(v)[0] != "gate_input"
            and (kind is None or applies(v, kind))]


def applies(variant: str, kind: str) -> bool:
    """Whether a variant runs on ``kind`` ("image" or "synthetic") data: the authors' score needs the
    components' class logits, which the synthetic data's linear SVMs do not have."""
    if variant == CONFIGURED:
        return True
    factor, value = parse_variant(variant)
    return not (kind == "synthetic" and factor == "reassign" and value in COMBINER_SCORED)


def apply_variant(variant: str, presto: Mapping, epsilon: float, lam: float) -> tuple[dict, float, float]:
    """(presto section, epsilon, lambda) of a variant; ``configured`` returns them unchanged (copied)."""
    presto = copy.deepcopy(dict(presto))
    if variant == CONFIGURED:
        return presto, epsilon, lam
    factor, value = parse_variant(variant)
    if factor == "epsilon_scale":
        return presto, epsilon * value, lam
    if factor == "lam_scale":
        return presto, epsilon, lam * value
    presto[factor] = value
    return presto, epsilon, lam
