"""The runner of every Table-1 method of kind ``partitioner`` (App. B.4; SPEC §5, §5b): the partition is
fixed up front by the method (``prestorepro.partitioners``), the K components train on their parts with
PRESTO's budget (rounds x epochs epochs each), and the run is evaluated under the router (a test point
goes to the component the method's own rule routes it to) and the combiner. A new partitioner gets this
runner by being registered in ``prestorepro.partitioners``."""
from __future__ import annotations

import time

import numpy as np

from prestorepro.features import Features
from prestorepro.partitioners.base import PARTITIONERS
from prestorepro.streams import component_generators
from prestorepro.table1.base import (METHODS, RunSpec, component_stack, fit_spec_partition, train_fixed_partition,
                                     training_settings)
from prestorepro.table1.predictors import COMBINER_KEYS, _evaluate, fit_combiner, predictor_entry


def _partition_method(name: str):
    def run(feats: Features, spec: RunSpec, *, log, checkpoint_path=None) -> dict:
        t0 = time.perf_counter()
        res = fit_spec_partition(name, feats, spec)
        partition_s = time.perf_counter() - t0
        log(f"{name}: part sizes {np.bincount(res.labels, minlength=spec.k).tolist()} ({partition_s:.1f} s)")
        model = component_stack(spec, feats)
        seconds = train_fixed_partition(model, feats, res.labels, training_settings(spec),
                                        component_generators(spec.seed, spec.k), log=log,
                                        checkpoint_path=checkpoint_path, label=spec.name)
        seconds["partition"] = partition_s
        routes_test, routes_val = res.route(feats.flat("test")), res.route(feats.flat("val"))
        router = {"predictor": f"router: the partitioner's own assignment rule, {res.rule.description}", "parameters": 0,
                  **_evaluate(feats, model, routes_test, routes_val)}
        t1 = time.perf_counter()
        combiner = fit_combiner(feats, model, spec.presto, spec.seed, label=spec.name, log=log)
        seconds["combiner"] = time.perf_counter() - t1
        return {"assignment": res.labels, "test_routes": routes_test, "model": model, "notes": res.notes,
                "history": [], "seconds": seconds, "combiner": combiner["combiner"],
                "predictors": {"router": predictor_entry(router, ("predictor", "parameters")),
                               "combiner": predictor_entry(combiner, COMBINER_KEYS)}}

    run.__name__ = f"run_{name}"
    return run


for _name in PARTITIONERS:
    METHODS.register(_name)(_partition_method(_name))
