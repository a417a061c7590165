"""The test-time predictors of a Table-1 run (SPEC §3, §5b), on its trained components: the router (§2.2: a
test instance goes to one component, by the partitioner's own rule or by the gate pi_phi), the combiner
(App. B.2: one linear layer over the K components' logits) and a mixture of experts' own gate-weighted
mixture. With a ``compress.ledger`` (sequential mode, §2.4) each predictor's training and inference is
measured as a phase of its own."""
from __future__ import annotations

import contextlib
from typing import Mapping, Sequence

import numpy as np
import torch

from prestorepro.features import Features
from prestorepro.models.parameters import combiner_parameter_count
from prestorepro.presto.combiner import (CombinerSchedule, combiner_inputs, combiner_predict, new_combiner,
                                         train_combiner)
from prestorepro.presto.gate import GateInput, GateSchedule, gate_inputs, gate_routes, mixture_predict, train_gate
from prestorepro.streams import gate_generator, generator
from prestorepro.training.sequential import sequential_predict

COMBINER_KEYS = ("predictor", "parameters", "best_epoch", "train_loss", "train_accuracy")


def _measure(ledger, phase: str):
    return ledger.measure(phase) if ledger is not None else contextlib.nullcontext()


def _evaluate(feats: Features, model, routes_test: np.ndarray, routes_val: np.ndarray) -> dict:
    routes = {"test": routes_test, "val": routes_val}
    return feats.evaluate(lambda split: mixture_predict(model, feats.x(split), routes[split], "ce"))


SCORES = ("test_accuracy", "test_macro_f1", "val_accuracy", "val_macro_f1")


def fit_combiner(feats: Features, model, presto: Mapping, seed: int, *, label: str, log,
                 compute_device: torch.device | None = None, ledger=None) -> dict:
    """The combiner (``presto.combiner``) on the trained components: trained on every training point,
    then evaluated on test and val. In sequential mode (``compute_device``) the training logits are
    computed one component at a time and streamed; at test time all K components sit on the device, as
    the combiner needs every component's logits for every instance (measured as ``combiner_inference``)."""
    p = presto
    dev = compute_device if compute_device is not None else feats.train_x.device
    with _measure(ledger, "combiner_training"):
        inputs = combiner_inputs(model, feats.train_x, compute_device)
        stream = generator(seed, "combiner")
        schedule = CombinerSchedule(epochs=p["combiner_epochs"], lr=p["lr"], weight_decay=p["combiner_weight_decay"],
                                    batch_size=p["batch_size"])
        comb, info = train_combiner(new_combiner(model.k, feats.num_classes, stream.initial_seed()), inputs,
                                    feats.train_y, schedule, generator=stream, device=dev, log=log,
                                    desc=f"[{label}] combiner")
    resident = None if compute_device is None else compute_device

    def predict_split(split: str) -> np.ndarray:
        return combiner_predict(comb, combiner_inputs(model, feats.x(split), resident, all_components=True))

    with _measure(ledger, "combiner_inference"):
        test_pred = predict_split("test")
    predicted = {"test": test_pred, "val": predict_split("val")}
    train_acc = float((combiner_predict(comb, inputs) == feats.train_y.cpu().numpy()).mean())
    return {"combiner": comb, "parameters": combiner_parameter_count(model.k, feats.num_classes),
            "best_epoch": info["best_epoch"], "train_loss": info["best_loss"], "train_accuracy": train_acc,
            "predictor": "combiner: one linear layer over the K components' logits",
            **feats.evaluate(predicted.__getitem__)}


def predictor_entry(scores: Mapping, extra: Sequence[str] = ()) -> dict:
    """What a metrics file keeps of one predictor: its scores and the named extra keys."""
    return {key: scores[key] for key in (*SCORES, *extra) if key in scores}


def fit_gate(feats: Features, model, assignment: np.ndarray, schedule: GateSchedule, *, source: str, seed: int, log,
             compute_device: torch.device | None = None):
    """pi_phi reading ``source``, trained on the final partition (its stream: ``streams.gate_generator``)."""
    return train_gate(model, feats.train_x, assignment, schedule, generator=gate_generator(seed),
                      reads=GateInput(source=source), log=log, compute_device=compute_device)


def _routed_predict(model, x: torch.Tensor, routes: np.ndarray, compute_device: torch.device | None) -> np.ndarray:
    """Each instance predicted by the component it is routed to: fused where x is, or (sequential mode)
    one component at a time on ``compute_device``, each predicting only the instances routed to it."""
    if compute_device is None:
        return mixture_predict(model, x, routes, "ce")
    return sequential_predict(model, x, routes, compute_device)


def gate_scores(feats: Features, model, gate, assignment: np.ndarray, compute_device: torch.device | None = None,
                ledger=None) -> dict:
    """The gated mixture: routes, accuracy and macro-F1 on test and val, and the gate's agreement with
    the partition it learnt. With ``ledger``, the test-time prediction (§2.2: route by pi_phi, predict by
    the routed component) is measured as the ``router_inference`` phase."""
    with _measure(ledger, "router_inference"):
        routes = {"test": gate_routes(gate, model, feats.test_x, "ce", compute_device)}
        predicted = {"test": _routed_predict(model, feats.test_x, routes["test"], compute_device)}
    routes["val"] = gate_routes(gate, model, feats.val_x, "ce", compute_device)
    predicted["val"] = _routed_predict(model, feats.val_x, routes["val"], compute_device)
    agreement = float((gate_routes(gate, model, feats.train_x, "ce", compute_device) == assignment).mean())
    return {"gate": gate, "test_routes": routes["test"], "gate_train_agreement": agreement,
            **feats.evaluate(predicted.__getitem__)}


@torch.no_grad()
def mixture_scores(feats: Features, model, gate, loss: str = "ce") -> dict:
    """The gate-weighted mixture's prediction, argmax_c sum_k g_k(x) p_k(c | x) (a mixture of experts' own
    predictor), on test and val."""
    from prestorepro.mixture.objective import mixture_probabilities
    from prestorepro.training.fused import component_outputs

    gate.eval()

    def predict(split: str) -> np.ndarray:
        x = feats.x(split)
        logits = gate(gate_inputs(model, x, loss, gate.source))
        return mixture_probabilities(logits, component_outputs(model, x), loss).argmax(1).cpu().numpy()

    return {"predictor": "mixture: the gate-weighted mixture sum_k g_k(x) p_k(y | x)",
            "parameters": sum(p.numel() for p in gate.parameters()), **feats.evaluate(predict)}
