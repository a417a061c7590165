"""The ablation stage: variants from config, their settings, the bundled job's resume, the table."""
import json
import logging

import numpy as np
import pandas as pd
import pytest

from prestorepro.ablation import (CONFIGURED, apply_variant, parse_variant,
                                              run_variants, variants)
from prestorepro.jobs.ablation import run_bundle
from prestorepro.report.ablation import is_paper_setting

PRESTO = {"gate_input": "features", "singleton": "current", "keep": "decreased", "alpha": 1.0, "max_moves": 1.0,
          "reassign": "bound", "lam": 1e-4, "rounds": 8}
FACTORS = {"gate_input": ["features", "probabilities"], "epsilon_scale": [0, 1, 10], "singleton": ["current", "trained"],
           "keep": ["decreased", "every"], "alpha": [1.0, 0.5], "lam_scale": [1, 100], "max_moves": [1.0, 0.05]}


def test_variants_change_one_factor_and_skip_the_configured_value():
    names = variants({"factors": FACTORS}, PRESTO)
    assert names == ["gate_input-probabilities", "epsilon_scale-0", "epsilon_scale-10", "singleton-trained",
                     "keep-every", "alpha-0.5", "lam_scale-100", "max_moves-0.05"]
    assert run_variants({"factors": FACTORS}, PRESTO) == names[1:]  # the gate needs no run of its own
    # a configured value that is not the paper's becomes a variant of the other values
    assert "alpha-1" in variants({"factors": {"alpha": [1.0, 0.5]}}, dict(PRESTO, alpha=0.5))


def test_apply_variant_scales_epsilon_and_lambda_and_sets_the_rest():
    p, eps, lam = apply_variant("epsilon_scale-10", PRESTO, 0.003, 1e-4)
    assert eps == pytest.approx(0.03) and lam == 1e-4 and p == PRESTO
    p, eps, lam = apply_variant("lam_scale-100", PRESTO, 0.003, 1e-4)
    assert lam == pytest.approx(1e-2) and eps == 0.003
    p, _, _ = apply_variant("max_moves-0.05", PRESTO, 0.003, 1e-4)
    assert p["max_moves"] == 0.05 and PRESTO["max_moves"] == 1.0  # the configured section is not mutated
    p, _, _ = apply_variant("singleton-trained", PRESTO, 0.003, 1e-4)
    assert p["singleton"] == "trained"
    assert apply_variant(CONFIGURED, PRESTO, 0.003, 1e-4) == (PRESTO, 0.003, 1e-4)
    with pytest.raises(ValueError, match="factor one of"):
        parse_variant("gamma-3")
    assert is_paper_setting("keep", "decreased") and not is_paper_setting("alpha", "1")


def test_bundled_job_resumes_with_the_variant_it_was_in(tmp_path):
    ran = []
    outputs = {v: {"metrics": str(tmp_path / "out" / v / "metrics.json")} for v in ("a", "b", "c")}
    settings = {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}}

    def run_variant(name, s, paths, checkpoint, fail_on=None):
        if name == fail_on:
            raise KeyboardInterrupt  # the job is killed while it runs this variant
        ran.append(name)
        (tmp_path / "out" / name).mkdir(parents=True, exist_ok=True)
        with open(paths["metrics"], "w") as f:
            json.dump({"value": s["x"] * 10}, f)

    log = logging.getLogger("test")
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        run_bundle("image", settings, outputs, 0, str(ckpt), log, dataset="d",
                 run_variant=lambda *a: run_variant(*a, fail_on="c"))
    assert ran == ["a", "b"]
    for v in ("a", "b"):  # Snakemake removes the outputs of a killed job before it runs it again
        (tmp_path / "out" / v / "metrics.json").unlink()
    run_bundle("image", settings, outputs, 0, str(ckpt), log, dataset="d", run_variant=run_variant)
    assert ran == ["a", "b", "c"]  # a and b were restored, not run again
    assert [json.load(open(outputs[v]["metrics"]))["value"] for v in "abc"] == [10, 20, 30]
    assert not ckpt.exists()  # the kept copies go when the job ends
    # a kept variant whose settings changed is run again
    with pytest.raises(KeyboardInterrupt):
        run_bundle("image", settings, outputs, 0, str(ckpt), log, dataset="d",
                 run_variant=lambda *a: run_variant(*a, fail_on="b"))
    run_bundle("image", dict(settings, a={"x": 5}), outputs, 0, str(ckpt), log, dataset="d", run_variant=run_variant)
    assert ran == ["a", "b", "c", "a", "a", "b", "c"]
    assert json.load(open(outputs["a"]["metrics"]))["value"] == 50


def _metrics(path, **values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    return str(path)


def test_ablation_frame_rows_means_and_deltas(tmp_path):
    from prestorepro.report.ablation import ablation_frame

    gate = {"probabilities": {"test_accuracy": 0.5, "test_macro_f1": 0.4, "gate_train_agreement": 0.6}}

    def predictors(combiner, router):
        return {"combiner": {"test_accuracy": combiner, "test_macro_f1": combiner},
                "router": {"test_accuracy": router, "test_macro_f1": router, "gate_train_agreement": 0.9}}

    base = [_metrics(tmp_path / f"b{s}.json", predictors=predictors(acc + 0.02, acc), rounds_run=8, gate_inputs=gate,
                     seed=s) for s, acc in enumerate((0.90, 0.92))]
    eps = [_metrics(tmp_path / f"e{s}.json", predictors=predictors(acc + 0.02, acc), rounds_run=8, seed=s)
           for s, acc in enumerate((0.80, 0.84))]
    syn = {"final": {"err_s_normalised": 0.5, "test_accuracy_gated": 0.8, "train_accuracy_assigned": 1.0,
                     "gate_train_agreement": 0.7, "rounds_run": 5},
           "gate_inputs": {"probabilities": {"test_accuracy_gated": 0.6, "gate_train_agreement": 0.5}}}
    syn_base = [_metrics(tmp_path / "s0.json", **syn)]
    syn_trained = [_metrics(tmp_path / "t0.json", **dict(syn, final=dict(syn["final"], err_s_normalised=0.7)))]
    layout = {"digits": {CONFIGURED: base, "epsilon_scale-0": eps},
              "synthetic": {CONFIGURED: syn_base, "singleton-trained": syn_trained}}
    presto = {k: PRESTO[k] for k in ("gate_input", "singleton", "keep", "alpha", "max_moves", "reassign")}
    df, notes = ablation_frame(layout, {"digits": "digits", "synthetic": "synthetic"}, presto, "combiner")
    d = df[df.dataset == "digits"].set_index("setting")
    assert d.loc["configured", "test accuracy, combiner (%)"] == pytest.approx(93.0)
    assert d.loc["configured", "test accuracy, router (%)"] == pytest.approx(91.0)
    assert d.loc["configured", "test accuracy, router (%) std"] == pytest.approx(np.std([90, 92], ddof=1), abs=1e-3)
    assert d.loc["epsilon_scale-0", "delta"] == pytest.approx(84.0 - 93.0)  # on the configured predictor
    # paired by seed: -10 and -8 points, t_{0.975, 1} = 12.706 times s / sqrt(2) = 1
    assert d.loc["epsilon_scale-0", "vs_configured"] == "-9.000 ± 12.706 (0/0/2) †"
    assert d.loc["epsilon_scale-0", "delta_wins_ties_losses"] == "0/0/2"
    assert pd.isna(d.loc["configured", "vs_configured"])
    # another gate routes the same components: the router's accuracy moves, the combiner's does not
    assert d.loc["gate_input-probabilities", "test accuracy, router (%)"] == pytest.approx(50.0)
    assert d.loc["gate_input-probabilities", "test accuracy, combiner (%)"] == pytest.approx(93.0)
    assert d.loc["gate_input-probabilities", "delta"] == pytest.approx(0.0)
    assert d.loc["gate_input-probabilities", "gate agreement (%)"] == pytest.approx(60.0)
    # led by the router, the deltas are the router's
    d = ablation_frame(layout, {"digits": "digits", "synthetic": "synthetic"}, presto, "router")[0]
    d = d[d.dataset == "digits"].set_index("setting")
    assert d.loc["epsilon_scale-0", "delta"] == pytest.approx(82.0 - 91.0)
    assert list(d.columns).index("test accuracy, router (%)") < list(d.columns).index("test accuracy, combiner (%)")
    assert d.loc["configured", "paper_setting"] == "yes, except singleton = current"
    s = df[df.dataset == "synthetic"].set_index("setting")
    assert s.loc["singleton-trained", "delta"] == pytest.approx(0.2)
    assert s.loc["singleton-trained", "paper_setting"] == "yes"  # Algorithm 1 lines 3-8
    assert s.loc["gate_input-probabilities", "gated test accuracy (%)"] == pytest.approx(60.0)
    assert s.loc["gate_input-probabilities", "Err_S / pairs"] == pytest.approx(0.5)  # same partition
