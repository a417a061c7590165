"""Config validation: every bad value stops the run with a message naming the key (issue: foundation)."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prestorepro.config import ConfigError, load_config, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def default():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid_and_get_defaults():
    for name in ("config.yaml", "paper.yaml"):
        cfg = load_config(ROOT / "config" / name)
        assert cfg["presto"]["singleton_steps"] == 5  # filled from the schema's default
    paper = load_config(ROOT / "config" / "paper.yaml")
    assert {d["source"] for d in paper["datasets"].values()} >= {"cifar10", "svhn", "pathmnist", "dermamnist"}
    # SPEC §4 / Table 5 values
    assert paper["datasets"]["cifar10"]["cut"] == "layer2" and paper["datasets"]["dermamnist"]["k"] == 3
    assert paper["datasets"]["dermamnist"]["epsilon"] == 0.006 and paper["datasets"]["svhn"]["leeway"] == 3000
    assert paper["presto"]["rounds"] == 30 and paper["presto"]["epochs"] == 10 and paper["presto"]["lam"] == 1e-4
    assert paper["embedding"]["weights"] == "imagenet"


@pytest.mark.parametrize("mutate,needle", [
    (lambda c: c.update(bogus=1), "unknown key(s) 'bogus'"),
    (lambda c: c["presto"].update(rounds="many"), "presto.rounds"),
    (lambda c: c["presto"].update(rounds=0), "presto.rounds"),
    (lambda c: c["presto"].update(alpha=1.5), "presto.alpha"),
    (lambda c: c["presto"].update(alhpa=0.5), "'alhpa'"),
    (lambda c: c["datasets"]["digits"].update(k=1), "datasets.digits.k"),
    (lambda c: c["datasets"]["digits"].update(source="imagenet"), "valid values are: cifar10"),
    (lambda c: c["datasets"]["digits"].pop("leeway"), "'leeway' is a required property"),
    (lambda c: c["datasets"]["digits"].update(leeway=400), "datasets.digits.leeway / presto.k_sweep: leeway 400 allows empty parts for N=1079, K=3"),
    (lambda c: c["datasets"]["digits"].update(k=2000, leeway=0), "K=2000 parts requested for only N=1079"),
    (lambda c: c["table1"].update(methods=["presto", "kmeans"]), "table1.methods.1"),
    (lambda c: c["embedding"].update(weights="imagenet1k"), "embedding.weights"),
    (lambda c: c["datasets"]["digits"].update(path="x.npz"), "path is only used with source npz"),
    (lambda c: c["datasets"].update(mine={"source": "npz", "cut": "layer1", "k": 3, "init": "kmeans_pp",
                                          "leeway": 0, "epsilon": 0.0}), "needs path"),
    (lambda c: c["synthetic"].update(n=1001), "synthetic.n"),
    (lambda c: c.update(seeds=[]), "seeds"),
    (lambda c: c["presto"].update(patience=3), "'patience'"),
    (lambda c: c["presto"].update(keep="sometimes"), "presto.keep"),
    (lambda c: c["presto"].update(max_moves=0), "presto.max_moves"),
    (lambda c: c["presto"].update(gate_input="logits"), "presto.gate_input"),
    (lambda c: c["ablation"].update(seeds=[7]), "ablation.seeds: [7] are not among seeds"),
    (lambda c: c["ablation"].update(factors={"alpha": [1.5]}), "ablation.factors.alpha.0"),
    (lambda c: c["ablation"].update(factors={"gamma": [1]}), "'gamma'"),
])
def test_bad_config_is_rejected_with_the_key_named(default, mutate, needle):
    cfg = copy.deepcopy(default)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert needle in str(err.value)


def test_snakemake_dry_run_stops_on_a_bad_config(tmp_path, default):
    cfg = copy.deepcopy(default)
    cfg["presto"]["rounds"] = -3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "presto.rounds" in out.stdout + out.stderr


@pytest.mark.parametrize("mutate, needle", [
    # the compress stage's checks, made with every other config check (no longer in its rule file)
    (lambda c: c["table1"].update(methods=["gmm"]) or c["presto"].update(k_sweep=[]),
     "config key compress.methods: presto needs the Table-1 PRESTO runs"),
    (lambda c: c["compress"].update(prune_at="trained", reference_epochs=0),
     "config key compress.reference_epochs: prune_at: trained needs a trained reference network"),
    (lambda c: c["compress"].update(presto_k_sweep=[3, 400]),
     "config key datasets.digits.leeway / compress.presto_k_sweep"),
])
def test_compress_settings_are_checked_with_the_config(default, mutate, needle):
    cfg = copy.deepcopy(default)
    mutate(cfg)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("(", r"\(")):
        validate_config(cfg)
