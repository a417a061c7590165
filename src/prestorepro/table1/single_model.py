"""One model of the same size (SPEC §5b): the null baseline that says whether a mixture, PRESTO's or any,
beats a single network with as many parameters trained on every training point.

One component network (App. B.2's ResNet tail) whose widths are the component widths scaled until its
parameter count is within 5 % of PRESTO's total, the K components plus the combiner (the paper's printed
totals; ``compress.distill.match_student_widths``, the scaling Table 2's students use), trained without a
teacher on every training point with PRESTO's optimiser and as many gradient steps as all of PRESTO's
rounds together: rounds x epochs epochs over the N points at PRESTO's batch size, Adam at its learning rate,
its L2 term (sum_k ceil(|S_k| / B) steps per epoch for PRESTO's K components against ceil(N / B) here: the
same count whenever the parts are multiples of the batch size, at most K - 1 apart otherwise). Its peak
training and inference memory are measured as the compress stage measures its networks (``compress.ledger``,
after the job's warm-up): the run is also Table 2's row (``jobs.compress.table1_point``)."""
from __future__ import annotations

import numpy as np

from prestorepro.compress.distill import match_student_widths
from prestorepro.compress.ledger import MemoryLedger
from prestorepro.features import Features
from prestorepro.models.parameters import presto_parameter_total
from prestorepro.models.resnet_tail import ResNetTail, count_parameters
from prestorepro.streams import generator, seeded
from prestorepro.table1.base import METHODS, RunSpec
from prestorepro.training.single import Recipe, RunRecord, TrainingSet, predict, train_single

INFER_BATCH = 1024  # rows per inference batch (the compress stage's infer_batch_size default)


def one_model_widths(cut: str, component_widths, num_classes: int, k: int) -> tuple[int, int, int]:
    """The component widths scaled until the network has PRESTO's total within 5 % (components + combiner)."""
    return match_student_widths(presto_parameter_total(cut, component_widths, num_classes, k), cut, num_classes,
                                base=component_widths)


@METHODS.register("single")
def run_one_model(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
    p = spec.presto
    dev = spec.compute_device if spec.compute_device is not None else feats.train_x.device
    widths = one_model_widths(feats.cut, spec.widths, feats.num_classes, spec.k)
    epochs = int(p["rounds"]) * int(p["epochs"])
    ledger = MemoryLedger(dev)
    with ledger.measure("inference"):
        model = seeded(spec.seed, lambda: ResNetTail(feats.cut, widths, feats.num_classes)).to(dev)
        predict(model, feats.test_x, INFER_BATCH, dev)
    with ledger.measure("training"):
        hist = train_single(model, TrainingSet(feats.train_x, feats.train_y),
                            recipe=Recipe(epochs, p["batch_size"], p["lr"], l2=p["lam"]), device=dev,
                            generator=generator(spec.seed, "single"),
                            record=RunRecord(spec.name, log, checkpoint_path))
    n = count_parameters(model)
    total = presto_parameter_total(feats.cut, spec.widths, feats.num_classes, spec.k)
    n_train = feats.train_x.shape[0]
    steps = -(-n_train // int(p["batch_size"])) * epochs
    scores = feats.evaluate(lambda split: predict(model, feats.x(split), INFER_BATCH, dev).argmax(1))
    notes = (f"one model: widths {widths} ({n} parameters; PRESTO's K = {spec.k} components + combiner: {total}), "
             f"{epochs} epochs (PRESTO's rounds x epochs) over all {n_train} training points, {steps} steps at batch "
             f"{p['batch_size']}, Adam lr {p['lr']:g}, L2 {p['lam']:g}; no teacher")
    log(notes)
    return {"assignment": np.zeros(n_train, dtype=np.int64),
            "test_routes": np.zeros(feats.test_x.shape[0], dtype=np.int64),
            "model": model, "notes": notes, "history": [], "seconds": {"train": float(sum(hist["time_s"]))},
            "widths": list(widths), "num_parameters": n, "presto_parameters": total, "gradient_steps": steps,
            "loss": hist["loss"], "epoch_seconds": hist["time_s"], "memory": ledger.summary(),
            "predictors": {"model": {"predictor": "model: the one model's own prediction", "parameters": n,
                                     **scores}}}
