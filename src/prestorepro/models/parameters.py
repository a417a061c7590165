"""Parameter counts of PRESTO's models in closed form, without building a model (no torch).

The one place the counts are computed: PRESTO's parameter table, the budgets of the resource-constrained
comparison (§4.2: the paper's printed totals, the K components plus the combiner) and the coreset
model's width all read them from here.
"""
from __future__ import annotations

import math
from typing import Sequence

# channels of the ResNet18 feature map at each cut point
CUT_CHANNELS = {"layer1": 64, "layer2": 128}
# stages that follow each cut point
STAGES_AFTER = {"layer1": ("layer2", "layer3", "layer4"), "layer2": ("layer3", "layer4")}
# spatial downsampling of the ResNet18 trunk up to each cut (stem conv and max-pool: 4; layer2: 8)
CUT_STRIDE = {"layer1": 4, "layer2": 8}
# what the gate pi_phi reads: the instance x (§2.2, §4.1), or the K components' class probabilities
GATE_INPUTS = ("features", "probabilities")


def stage_widths_for_cut(widths: Sequence[int], cut: str) -> tuple[int, ...]:
    """Widths are given for (layer2, layer3, layer4); a layer2 cut keeps the last two."""
    if cut not in STAGES_AFTER:
        raise ValueError(f"unknown cut point {cut!r}; valid: {', '.join(STAGES_AFTER)}")
    widths = tuple(int(w) for w in widths)
    if len(widths) != 3 or min(widths) < 1:
        raise ValueError(f"widths must be three positive integers (layer2, layer3, layer4), got {widths}")
    return widths[-len(STAGES_AFTER[cut]):]


def tail_parameter_count(cut: str, widths: Sequence[int], num_classes: int) -> int:
    """Parameters of ``ResNetTail(cut, widths, num_classes)``.

    Per stage in -> out: block 1 = 3x3 conv (9 in out) + 3x3 conv (9 out^2) + 1x1 downsample (in out)
    + three batch norms (2 out each); block 2 = two 3x3 convs (9 out^2) + two batch norms; then the
    linear head (last width x C + C).
    """
    chans = (CUT_CHANNELS[cut],) + stage_widths_for_cut(widths, cut)
    total = 0
    for a, b in zip(chans[:-1], chans[1:]):
        total += 9 * a * b + 9 * b * b + a * b + 3 * 2 * b  # block 1
        total += 2 * (9 * b * b + 2 * b)  # block 2
    return total + chans[-1] * num_classes + num_classes


def feature_size(cut: str, image_side: int) -> int:
    """Length of the flattened embedding x at ``cut`` for square images of side ``image_side``."""
    side = math.ceil(image_side / CUT_STRIDE[cut])
    return CUT_CHANNELS[cut] * side * side


def gate_in_features(gate_input: str, k: int, num_classes: int, features: int) -> int:
    """Inputs of pi_phi: the flattened embedding (``features`` values), or K class-probability vectors."""
    if gate_input == "features":
        return int(features)
    if gate_input == "probabilities":
        return int(k) * int(num_classes)
    raise ValueError(f"unknown gate input {gate_input!r}; valid: {', '.join(GATE_INPUTS)}")


def gate_parameter_count(gate_input: str, k: int, num_classes: int, features: int) -> int:
    """pi_phi is one linear layer (§4.1): in_features x K weights and K biases."""
    return (gate_in_features(gate_input, k, num_classes, features) + 1) * int(k)


def combiner_parameter_count(k: int, num_classes: int) -> int:
    """The combiner (App. B.2's "additional classifier", the authors' ``LinearNN(K*C, C)``): one linear
    layer from the K components' concatenated logits to the C classes, (K*C + 1) * C parameters."""
    return (int(k) * int(num_classes) + 1) * int(num_classes)


def presto_parameter_total(cut: str, widths: Sequence[int], num_classes: int, k: int) -> int:
    """PRESTO's total as the paper prints it (§4.2, Table 2's caption: 82690 / 54993 / 41047 / 55138, and
    the §4.2 sweep's end points): the K components plus the combiner. §4.2's text says
    "sum_k dim(theta_k)", but its printed totals are exactly these (SPEC §3; tests/test_models.py); they
    are the budget of the compared methods (Table 2, the coreset model)."""
    return int(k) * tail_parameter_count(cut, widths, num_classes) + combiner_parameter_count(k, num_classes)


def presto_parameters(cut: str, widths: Sequence[int], num_classes: int, k: int, *, gate_input: str,
                      features: int) -> dict:
    """PRESTO's parameters: ``components`` = sum_k dim(theta_k); ``combiner`` its (K*C+1)*C; ``total`` =
    both, the paper's printed total and the budget of the compared methods; the router's gate pi_phi
    (reading ``gate_input``) beside them, with ``components_and_gate`` the router's own total."""
    per = tail_parameter_count(cut, widths, num_classes)
    components = int(k) * per
    combiner = combiner_parameter_count(k, num_classes)
    gate = gate_parameter_count(gate_input, k, num_classes, features)
    return {"per_component": per, "components": components, "combiner": combiner, "total": components + combiner,
            "gate": gate, "components_and_gate": components + gate}
