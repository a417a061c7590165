"""Knowledge distillation: KD (Hinton et al. 2015) and DGKD (Son et al. 2021) (paper §4.2, App. B.5).

KD trains a student against the cross-entropy and a teacher's softened outputs; DGKD adds teacher
assistants as further guides. Widths (layer2, layer3, layer4) of the ResNet18 tail (SPEC §3):
teacher (128, 256, 512), assistant (32, 64, 128), student base (12, 16, 32) scaled by
``match_student_widths`` until the student has PRESTO's parameter count within 5%.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prestorepro.models.parameters import tail_parameter_count

# App. B.5: "The student model is the lightest with filter size of 12, 16 and 32."
STUDENT_BASE_WIDTHS = (12, 16, 32)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor,
            T: float = 5.0, a: float = 0.9) -> torch.Tensor:
    """(1 - a) CE(student, y) + a T^2 KL(softmax(teacher/T) || softmax(student/T)) (Hinton et al. 2015).

    The KL is the batch mean of the per-row divergence; the T^2 factor keeps the soft-target
    gradients on the scale of the hard-target ones (Hinton et al. §2). App. B.5: T = 5, a = 0.9.
    """
    ce = F.cross_entropy(student_logits, y)
    kl = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.softmax(teacher_logits.detach() / T, dim=1),
                  reduction="batchmean")
    return (1.0 - a) * ce + a * T * T * kl


def draw_guides(n_guides: int, drop_prob: float, generator: torch.Generator | None) -> list[int]:
    """Indices of the guides kept for one batch: each dropped with probability ``drop_prob``, and
    if all would be dropped one is kept at random (Son et al. 2021, stochastic DGKD)."""
    if n_guides < 1:
        raise ValueError("distillation needs at least one guide (teacher)")
    if not 0.0 <= drop_prob < 1.0:
        raise ValueError(f"drop_prob must lie in [0, 1), got {drop_prob}")
    if drop_prob == 0.0:
        return list(range(n_guides))
    if generator is None:
        raise ValueError("dropping guides at random needs a torch.Generator (drop_prob > 0)")
    kept = torch.nonzero(torch.rand(n_guides, generator=generator) >= drop_prob, as_tuple=True)[0].tolist()
    if not kept:
        kept = [int(torch.randint(n_guides, (1,), generator=generator))]
    return kept


def dgkd_loss(student_logits: torch.Tensor, guide_logits: Sequence[torch.Tensor], y: torch.Tensor,
              T: float = 5.0, a: float = 0.9, drop_prob: float = 0.0,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """DGKD (Son et al., ICCV 2021): (1 - a) CE + a T^2 * sum over the kept guides of KL(guide/T || student/T).

    The student's loss is the sum of the distillation terms of the teacher and of every teacher
    assistant (Son et al. §3.2: L_S = L_{T->S} + L_{A_1->S} + ... + L_{A_n->S}; the authors' train.py:
    ``(1 - lambda) * loss_SL + lambda * T * T * sum(loss_KD_list)``), the cross-entropy counted once.
    A sum, not a mean: with two guides the soft targets weigh twice what KD's one does. With one guide
    this is exactly ``kd_loss``. The guides are frozen. ``drop_prob`` > 0 drops guides at random per
    batch (stochastic DGKD), never all of them. The KL is the per-row divergence's batch mean (the
    authors' ``nn.KLDivLoss()`` of 2021 averaged over rows and classes, a constant factor 1/C that only
    rescales ``a``; KD here and in Hinton et al. uses the batch mean).
    """
    kept = draw_guides(len(guide_logits), drop_prob, generator)
    log_p = F.log_softmax(student_logits / T, dim=1)
    kl = sum(F.kl_div(log_p, F.softmax(guide_logits[j].detach() / T, dim=1), reduction="batchmean")
             for j in kept)
    return (1.0 - a) * F.cross_entropy(student_logits, y) + a * T * T * kl


class Distiller:
    """The ``distill`` argument of ``train_single``: guide logits for a batch and the DGKD loss.

    A guide is either a frozen model (run on the batch under ``no_grad``: the teacher stays on the
    device during student training, as the memory comparison of §4.2 assumes) or a precomputed
    (N, C) tensor of its logits on the training set, indexed by the batch's row indices. With one
    guide this is KD; with the teacher and assistant(s) it is DGKD.
    """

    def __init__(self, guides: Sequence[nn.Module | torch.Tensor], *, T: float = 5.0, a: float = 0.9,
                 drop_prob: float = 0.0, generator: torch.Generator | None = None):
        if not guides:
            raise ValueError("Distiller needs at least one guide (the teacher)")
        if not (T > 0 and 0.0 <= a <= 1.0):
            raise ValueError(f"need temperature T > 0 and 0 <= a <= 1; got T={T}, a={a}")
        draw_guides(len(guides), drop_prob, generator)  # validates drop_prob / generator up front
        self.guides = list(guides)
        for g in self.guides:
            if isinstance(g, nn.Module):
                g.eval()
        self.T, self.a, self.drop_prob, self.generator = float(T), float(a), float(drop_prob), generator

    @torch.no_grad()
    def guide_logits(self, idx: torch.Tensor, xb: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for g in self.guides:
            if isinstance(g, nn.Module):
                out.append(g(xb))
            else:
                out.append(g[idx.to(g.device)].to(device=xb.device, dtype=xb.dtype))
        return out

    def loss(self, student_logits: torch.Tensor, guide_logits: Sequence[torch.Tensor], yb: torch.Tensor) -> torch.Tensor:
        return dgkd_loss(student_logits, guide_logits, yb, self.T, self.a, self.drop_prob, self.generator)

    def state_dict(self) -> dict:
        """The guide-dropping generator state, so a resumed run drops the same guides."""
        return {"generator": self.generator.get_state()} if self.generator is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.generator is not None and "generator" in state:
            self.generator.set_state(state["generator"])


def match_student_widths(target_params: int, cut: str, num_classes: int,
                         base: Sequence[int] = STUDENT_BASE_WIDTHS, tolerance: float = 0.05) -> tuple[int, int, int]:
    """Widths round(s * base) for the scale s > 0 whose student comes closest to ``target_params``.

    App. B.5 fixes the student at (12, 16, 32) and §4.2 matches parameter counts within 5%; the
    student is scaled proportionally, every width rounded to an integer (at least 1). Every distinct
    integer width vector on the path s -> round(s * base) is tried (the breakpoints s = (n + 1/2)/b_i
    delimit them) up to the first one above the target's upper tolerance. Raises ValueError if the
    closest one misses the target by more than ``tolerance``.
    """
    base = tuple(int(b) for b in base)
    if len(base) != 3 or min(base) < 1 or target_params < 1:
        raise ValueError(f"need three positive base widths and a positive target; got base={base}, "
                         f"target={target_params}")
    bvec = np.asarray(base, dtype=np.float64)

    def widths_at(s: float) -> tuple[int, int, int]:
        return tuple(max(1, int(math.floor(s * b + 0.5))) for b in bvec)  # type: ignore[return-value]

    # grow s until the student exceeds the upper tolerance (parameter count is monotone in s)
    s_max = 1.0
    while tail_parameter_count(cut, widths_at(s_max), num_classes) <= target_params * (1 + tolerance):
        s_max *= 2.0
        if s_max > 2 ** 20:
            raise ValueError(f"target {target_params} parameters is beyond any student scaled from {base}")
    breaks = sorted({(n + 0.5) / b for b in base for n in range(int(s_max * b) + 2)})
    probes = [breaks[0] / 2] + [(lo + hi) / 2 for lo, hi in zip(breaks[:-1], breaks[1:])]
    best, best_count = None, None
    for s in probes:
        if s > s_max:
            break
        w = widths_at(s)
        c = tail_parameter_count(cut, w, num_classes)
        if best_count is None or abs(c - target_params) < abs(best_count - target_params):
            best, best_count = w, c
    assert best is not None and best_count is not None
    rel = abs(best_count - target_params) / target_params
    if rel > tolerance:
        raise ValueError(
            f"no proportional scaling of the student widths {base} for cut {cut!r} and {num_classes} classes "
            f"comes within {tolerance:.0%} of {target_params} parameters: the closest is {best} with "
            f"{best_count} ({rel:.1%} off); change the base widths or the tolerance")
    return best
