"""PRESTO in sequential mode (§2.4) for the memory comparison of Table 2: the K components trained on a
given partition one at a time (only component k, its optimiser moments and its part on the device),
then the gate pi_phi streamed from the host; each phase's peak memory measured (``compress.ledger``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from prestorepro.compress.ledger import MemoryLedger
from prestorepro.features import Features
from prestorepro.io import fingerprint, save_torch
from prestorepro.metrics import classification_metrics
from prestorepro.models.fused import FusedResNetTail
from prestorepro.models.resnet_tail import count_parameters
from prestorepro.checkpoint import matching_checkpoint
from prestorepro.presto.resume import restore_training_state, training_state
from prestorepro.presto.gate import Gate, new_gate
from prestorepro.streams import component_generators, gate_generator, seeded
from prestorepro.training.fused import MaskedAdam, class_probabilities
from prestorepro.training.sequential import component_outputs_sequential, train_components_sequential
from prestorepro.training.single import predict, train_single

LogFn = Callable[[str], None]


def _gate_inputs(model: FusedResNetTail, x: torch.Tensor, device: torch.device, batch: int, source: str
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, D) gate inputs on the host: x flattened (§2.2), or the components' class probabilities (then
    also the (N, K, C) component logits, computed one component on the device at a time)."""
    if source == "features":
        return x.reshape(x.shape[0], -1), None
    out = component_outputs_sequential(model, x, device, batch)
    probs = class_probabilities(out, "ce")
    return probs.reshape(probs.shape[0], -1), out


def _mixture_eval(model: FusedResNetTail, gate: Gate, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                  device: torch.device, batch: int) -> tuple[dict, np.ndarray]:
    """Test-time prediction (§2.2): k = argmax pi_phi(x), then component k's argmax — the gate streams
    its inputs in batches, the components run one at a time."""
    inputs, out = _gate_inputs(model, x, device, batch, gate.source)
    routes = predict(gate, inputs, batch, device).argmax(1)
    if out is None:
        out = component_outputs_sequential(model, x, device, batch)
    pred = out.argmax(-1).gather(1, torch.as_tensor(routes)[:, None])[:, 0].numpy()
    return classification_metrics(y.numpy(), pred, num_classes), routes


def run_presto_sequential(feats: Features, assignment: np.ndarray, k: int, widths: Sequence[int], presto: Mapping,
                          settings: Mapping, seed: int, device: torch.device, *, checkpoint_path=None,
                          log: LogFn = lambda m: None) -> tuple[dict, FusedResNetTail, Gate]:
    """Retrain PRESTO's K components on the given partition in sequential mode, then the gate.
    Returns (metrics, the K-component stack on the host, the gate).

    Initialisation as in Table 1 (``FusedResNetTail(K, ...)`` under ``manual_seed(seed)``), batch
    order from ``streams.component_generators``, Adam lr / lambda / batch size of
    ``presto``; ``settings['presto_epochs']`` epochs per component (Algorithm 1 trains each
    component rounds x epochs epochs, warm-started), in chunks of ``presto['epochs']`` with a
    checkpoint after each chunk. The gate trains ``presto['gate_epochs']`` epochs on (x_i, k), i in S_k,
    reading ``presto['gate_input']`` (the flattened x, §2.2; its random stream is Table 1's, ``streams.gate_generator``) from the host one batch of
    ``presto['batch_size']`` at a time. Test-time passes use ``infer_batch_size`` like every other method.
    """
    n = feats.train_x.shape[0]
    a = torch.as_tensor(np.asarray(assignment), dtype=torch.long)
    if a.shape != (n,) or int(a.min()) < 0 or int(a.max()) >= k:
        raise ValueError(f"PRESTO partition must hold {n} part indices in 0..{k - 1}, got shape {tuple(a.shape)} "
                         f"and range [{int(a.min())}, {int(a.max())}]; was it written for this dataset and K?")
    batch = settings["infer_batch_size"]
    # The K-component stack and its optimiser state live on the host (only one component is ever on
    # the device), so they are built before the job baseline, like the host-resident features.
    model = seeded(seed, lambda: FusedResNetTail(k, feats.cut, widths, feats.num_classes))
    opt = MaskedAdam(list(model.parameters()), k, lr=presto["lr"])
    gens = component_generators(seed, k)
    done = 0
    ckpt = Path(checkpoint_path) if checkpoint_path else None
    # a checkpoint is resumed only if this very run wrote it: same settings (but the epoch total, which
    # a resumed run may extend), data, partition, seed and initial parameters; a stale one, e.g. left
    # by a killed run on other embeddings, is ignored
    key = fingerprint(presto=dict(presto), k=int(k), widths=list(widths),
                      seed=int(seed), x=feats.train_x, y=feats.train_y, assignment=a,
                      model=dict(model.state_dict())) if ckpt is not None else None
    st = matching_checkpoint(ckpt, key, "cpu", log=log, label="presto sequential")
    if st is not None:
        restore_training_state(st, model, opt, gens)
        done = int(st["epochs_done"])
        log(f"presto sequential: resumed from {ckpt} after {done} epochs")
    total_epochs, chunk = int(settings["presto_epochs"]), int(presto["epochs"])
    ledger = MemoryLedger(device)
    source = presto["gate_input"]
    feature_numel = feats.train_x[0].numel()
    with ledger.measure("inference"):
        gate_gen = gate_generator(seed)  # Table 1's gate stream: initial weights and batch order
        gate0 = new_gate(k, feats.num_classes, feature_numel, source, gate_gen.initial_seed()).to(device)
        _mixture_eval(model, gate0, feats.test_x, feats.test_y, feats.num_classes, device, batch)
        del gate0
    with ledger.measure("training"):
        while done < total_epochs:
            e = min(chunk, total_epochs - done)
            train_components_sequential(model, feats.train_x, feats.train_y, a, device=device, epochs=e,
                                        batch_size=presto["batch_size"], optimizer=opt, lam=presto["lam"],
                                        generators=gens)
            done += e
            log(f"presto sequential: {done}/{total_epochs} epochs per component")
            if ckpt is not None:
                save_torch(ckpt, {**training_state(model, opt, gens), "epochs_done": done, "run_key": key})
        # the gate's inputs stay on the host and stream to the device in training-size batches: training
        # pi_phi should not need more device memory than a training step of one component
        inputs, _ = _gate_inputs(model, feats.train_x, device, presto["batch_size"], source)
        gate = new_gate(k, feats.num_classes, feature_numel, source, gate_gen.initial_seed())
        train_single(gate, inputs, a, epochs=presto["gate_epochs"], batch_size=presto["batch_size"], lr=presto["lr"],
                     device=device, generator=gate_gen, log=log, desc="gate", resident=False)
    out = {}
    for split in ("test", "val"):
        m, routes = _mixture_eval(model, gate, getattr(feats, f"{split}_x"), getattr(feats, f"{split}_y"),
                                  feats.num_classes, device, batch)
        out[f"{split}_accuracy"], out[f"{split}_macro_f1"] = m["accuracy"], m["macro_f1"]
        if split == "test":
            out["test_route_sizes"] = np.bincount(routes, minlength=k).tolist()
    n_params = model.num_parameters_per_component() * k
    metrics = {"num_parameters": n_params, "gate_parameters": count_parameters(gate), "gate_input": source,
               "widths": list(widths), "k": k,
               "part_sizes": torch.bincount(a, minlength=k).tolist(), **out, "memory": ledger.summary()}
    return metrics, model, gate.cpu()
