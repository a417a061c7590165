"""How a run of Algorithm 1 (and the sequential retraining) resumes: the run's fingerprint, a checkpoint
accepted only from the very run that wrote it, and the training state it holds."""
from __future__ import annotations

from dataclasses import asdict
from typing import Sequence

import torch

from prestorepro.io import fingerprint
from prestorepro.models.fused import FusedModule
from prestorepro.presto.settings import PrestoSettings
from prestorepro.training.masked_adam import MaskedAdam


def run_key(settings: PrestoSettings, x: torch.Tensor, y: torch.Tensor, assignment: torch.Tensor,
            generators: Sequence[torch.Generator], model: FusedModule, sequential: bool = False) -> str:
    """Fingerprint of a run of Algorithm 1, taken before round 1: settings except ``rounds``, fused or
    sequential training, the data, the initial partition, the generators' seeds and the initial parameters."""
    cfg = {k: v for k, v in asdict(settings).items() if k != "rounds"}
    return fingerprint(settings=cfg, sequential=bool(sequential), x=x, y=y, assignment=assignment,
                       generators=[g.get_state() for g in generators], model=dict(model.state_dict()))


def training_state(model: FusedModule, opt: MaskedAdam, generators: Sequence[torch.Generator]) -> dict:
    """What a per-round checkpoint must hold to continue training exactly where it stopped."""
    return {"model_state": model.state_dict(), "opt_state": opt.state_dict(),
            "generator_states": [g.get_state() for g in generators]}


def restore_training_state(state: dict, model: FusedModule, opt: MaskedAdam,
                           generators: Sequence[torch.Generator]) -> None:
    model.load_state_dict(state["model_state"])
    opt.load_state_dict(state["opt_state"])
    for g, s in zip(generators, state["generator_states"]):
        g.set_state(s.cpu())
