"""Config validation: every bad value stops the run with a message naming the key (issue: foundation)."""
import copy
import re
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
    # a dataset name is a folder of every output path: no "..", no separators, no regex characters
    (lambda c: c["datasets"].update({"../../../escaped": c["datasets"].pop("digits")}),
     "dataset name '../../../escaped' is not allowed"),
    (lambda c: c["datasets"].update({"..": c["datasets"].pop("digits")}), "dataset name '..' is not allowed"),
    (lambda c: c["datasets"].update({"dig(its)+": c["datasets"].pop("digits")}), "dataset name 'dig(its)+'"),
    (lambda c: c["datasets"].update({"": c["datasets"].pop("digits")}), "dataset name '' is not allowed"),
    (lambda c: c["datasets"].update({"a/b": c["datasets"].pop("digits")}), "dataset name 'a/b' is not allowed"),
    # the results tree at the file-system root
    (lambda c: c.update(results=""), "config key results: '' would put every output at the file-system root"),
    (lambda c: c.update(results="/"), "config key results: '/' would put every output"),
    (lambda c: c.update(results="/tmp/.."), "config key results: '/tmp/..' would put every output"),
    # a brace is a wildcard to Snakemake (the plan failed with KeyError: 'x')
    (lambda c: c.update(results="/tmp/r{x}"), "config key results: '/tmp/r{x}' holds a brace, which Snakemake reads "
                                              "as a wildcard"),
    (lambda c: c.update(data_root="raw}"), "config key data_root: 'raw}' holds a brace"),
    # one method's name where a list is meant (the schema said only "expected array")
    (lambda c: c["table1"].update(methods="moe"), "config key table1.methods: 'moe' is one name, not a list of "
                                                  "methods; write [moe] for that method alone, or all"),
    (lambda c: c.setdefault("coreset", {}).update(methods="craig"), "coreset.methods: 'craig' is one name"),
    # the mixture of experts' options
    (lambda c: c["table1"].update(moe={"gate_lr": 0}), "table1.moe.gate_lr: 0 is less than or equal to the minimum"),
    (lambda c: c["table1"].update(moe={"gate_lr": float("inf")}), "table1.moe.gate_lr: inf is not a finite number"),
    (lambda c: c["table1"].update(moe={"balance": float("nan")}), "table1.moe.balance: nan is not a finite number"),
    (lambda c: c["table1"].update(moe={"balance": -1}), "table1.moe.balance: -1 is less than the minimum of 0"),
    (lambda c: c["table1"].update(moe={"training": "em"}), "table1.moe.training: 'em' is not valid; valid values "
                                                           "are: soft, hard_em"),
    (lambda c: c["table1"].update(moe={"gate_lr": 0.01, "gates": 2}), "table1.moe"),
    (lambda c: c["table1"].update(moe=None), "table1.moe: None has the wrong type, expected object"),
    # whole-number floats where a whole number is meant
    (lambda c: c["datasets"]["digits"].update(k=3.0), "datasets.digits.k: 3.0 has the wrong type, expected integer "
                                                      "(write a whole number"),
    (lambda c: c["presto"].update(epochs=2.0), "presto.epochs: 2.0 has the wrong type"),
    (lambda c: c.update(seeds=[0.0]), "seeds.0: 0.0 has the wrong type"),
    (lambda c: c.update(seeds=[2 ** 32]), "seeds.0: 4294967296 is greater than the maximum of 4294967295"),
    (lambda c: c.update(split_seed=2 ** 40), "split_seed"),
    # values that failed only inside a job
    (lambda c: c["synthetic"].update(k=20000), "synthetic.k / synthetic.leeway (about 16000 training points): "
                                               "K=20000 parts requested for only N=16000"),
    (lambda c: c["synthetic"].update(leeway=5000), "synthetic.k / synthetic.leeway"),
    (lambda c: c["presto"].update(lr=float("nan")), "config key presto.lr: nan is not a finite number"),
    (lambda c: c["presto"].update(lr=float("inf")), "config key presto.lr: inf is not a finite number"),
    (lambda c: c["datasets"]["digits"].update(epsilon=float("nan")), "datasets.digits.epsilon: nan is not a finite"),
    (lambda c: c["coreset"].update(lr=float("-inf")), "coreset.lr: -inf is less than or equal to the minimum of 0"),
    # lists that name outputs
    # Fig. 7 would count one K's seeds twice
    (lambda c: c["presto"].update(k_sweep=[3, 3, 4]), "config key presto.k_sweep: [3, 3, 4] has non-unique elements"),
    # png twice, or no format at all: a traceback after training before
    (lambda c: c["report"].update(formats=["png", "png"]), "config key report.formats: ['png', 'png'] has non-unique"),
    (lambda c: c["report"].update(formats=[]), "config key report.formats: [] should be non-empty"),
    (lambda c: c["synthetic"].update(snapshot_rounds=[]), "config key synthetic.snapshot_rounds: [] should be non-empty"),
    (lambda c: c["synthetic"].update(snapshot_rounds=[1, 1]), "config key synthetic.snapshot_rounds: [1, 1] has non-unique"),
    (lambda c: c["presto"].update(k_sweep_seeds=[2 ** 32]), "config key presto.k_sweep_seeds.0: 4294967296 is greater than"),
    # values without an upper bound, or bounds the data never meet
    (lambda c: c["synthetic"].update(n=10 ** 30), "config key synthetic.n: " + str(10 ** 30) + " is greater than "
                                                  "the maximum of 10000000"),
    (lambda c: c["synthetic"].update(n=8), "config key synthetic.n: 8 is less than the minimum of 80"),
    (lambda c: c["presto"].update(batch_size=2 ** 40), "config key presto.batch_size: 1099511627776 is greater than"),
    (lambda c: c["embedding"].update(batch_size=2 ** 40), "config key embedding.batch_size: 1099511627776 is greater"),
    (lambda c: c["coreset"].update(batch_size=2 ** 40), "config key coreset.batch_size: 1099511627776 is greater"),
    (lambda c: c["components"].update(widths=[4, 8, 10 ** 9]), "config key components.widths.2: 1000000000 is greater"),
    (lambda c: c["compress"].update(teacher_widths=[4, 8, 10 ** 9]), "config key compress.teacher_widths.2: 1000000000"),
    (lambda c: c["presto"].update(lam=1e30), "config key presto.lam: 1e+30 is greater than the maximum of 100"),
    (lambda c: c["synthetic"].update(epsilon=1e30), "config key synthetic.epsilon: 1e+30 is greater than the maximum"),
    (lambda c: c["datasets"]["digits"].update(epsilon=1e30), "config key datasets.digits.epsilon: 1e+30 is greater"),
    (lambda c: c["presto"].update(alpha=1e-300), "config key presto.alpha: 1e-300 is less than the minimum of 0.001"),
    (lambda c: c["compress"].update(student_param_scale=[1e-300, 1.5]),
     "config key compress.student_param_scale.0: 1e-300 is less than the minimum of 0.01"),
    (lambda c: c["compress"].update(student_param_scale=[1.5, 0.75]),
     "config key compress.student_param_scale: [1.5, 0.75] is not a range [low, high]"),
    (lambda c: c["compress"].update(student_param_range={"cifar01": [1, 2]}),
     "config key compress.student_param_range: 'cifar01' is not valid; valid values are: cifar10, svhn"),
    (lambda c: c["compress"].update(student_param_range={"svhn": [9, 2]}),
     "config key compress.student_param_range.svhn: [9, 2] is not a range"),
    (lambda c: c["synthetic"].update(snapshot_rounds=[1, 3, 100], rounds=6),
     "config key synthetic.snapshot_rounds: round(s) [100] come after the last of the synthetic.rounds: 6 rounds"),
    # two fractions with one output name: one would overwrite the other
    (lambda c: c["coreset"].update(fractions=[0.3, 0.30000000000000004]),
     "config key coreset.fractions: 0.3 and 0.30000000000000004 both name their outputs f0.3; keep one of them"),
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
     "config key compress.methods: presto's Table-2 row is its Table-1 run; add presto to table1.methods"),
    (lambda c: c["table1"].update(methods=["gmm", "presto"]),
     "config key compress.methods: single's Table-2 row is its Table-1 run; add single to table1.methods or "
     "remove it from compress.methods"),
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


def test_results_that_is_an_existing_file_is_refused(default, tmp_path):
    cfg = copy.deepcopy(default)
    (tmp_path / "results").write_text("not a folder")
    cfg["results"] = str(tmp_path / "results")
    with pytest.raises(ConfigError, match="config key results: .* is an existing file, not a folder"):
        validate_config(cfg)


def test_floats_and_integers_stay_apart(default):
    # a float where a number is meant stays accepted; an integer is still a valid number
    cfg = copy.deepcopy(default)
    cfg["presto"]["lr"], cfg["presto"]["alpha"] = 1, 1
    validate_config(cfg)


def test_sweep_ks_of_a_prepared_bring_your_own_file_are_checked_when_the_workflow_is_parsed(default, tmp_path):
    import json

    from prestorepro.config_checks import check_prepared_sizes

    cfg = copy.deepcopy(default)
    cfg["results"] = str(tmp_path)
    cfg["datasets"]["mine"] = {"source": "npz", "path": "mine.npz", "cut": "layer1", "k": 3, "init": "kmeans_pp",
                               "leeway": 0, "epsilon": 0.0}
    validate_config(cfg)
    check_prepared_sizes(cfg)  # not prepared yet: nothing to check
    meta = tmp_path / "data" / "mine" / "prepared.meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"split_sizes": {"train": 5, "val": 2, "test": 2}}))
    with pytest.raises(ConfigError, match=r"datasets\.mine\.leeway / presto\.k_sweep: K=6 parts requested for only N=5"):
        check_prepared_sizes(cfg)
    cfg["presto"]["k_sweep"], cfg["compress"]["presto_k_sweep"] = [], [3]
    check_prepared_sizes(cfg)



def test_command_line_values_get_the_types_a_config_file_gives():
    from prestorepro.config_yaml import retype_overrides

    # what Snakemake's --config hands over for seeds=[0,1] presto={rounds: 2, lr: 1e-3} download=false ...
    overrides = {"seeds": ["0", "1"], "presto": {"rounds": "2", "lr": "1e-3", "keep": "every"}, "download": "false",
                 "results": "r-010", "threads": 2, "device": "null"}
    config = {"seeds": ["0", "1"], "presto": {"rounds": "2", "lr": "1e-3", "keep": "every", "epochs": 10},
              "download": "false", "results": "r-010", "threads": 2, "device": "null", "split_seed": "3"}
    retype_overrides(config, overrides)
    assert config == {"seeds": [0, 1], "presto": {"rounds": 2, "lr": 1e-3, "keep": "every", "epochs": 10},
                      "download": False, "results": "r-010", "threads": 2, "device": None,
                      "split_seed": "3"}  # a config file's value is the config file's business


def test_snakemake_takes_lists_mappings_and_booleans_on_the_command_line(tmp_path):
    # each was refused as the wrong type ("'0' has the wrong type, expected integer (write a whole number
    # without a decimal point)")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--config",
                          f"results={tmp_path / 'r'}", "seeds=[0,1]", "presto={rounds: 2, epochs: 1}",
                          "download=false"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "train_table1" in out.stdout


def test_a_home_folder_in_a_path_is_expanded(default, monkeypatch, tmp_path):
    # results: ~/x made a folder named "~" inside the working directory
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = copy.deepcopy(default)
    cfg.update(results="~/x", data_root="~/data")
    validate_config(cfg)
    assert cfg["results"] == str(tmp_path / "x") and cfg["data_root"] == str(tmp_path / "data")


@pytest.mark.parametrize("name, needle", [
    ("a" * 20, "dataset name 'aaaaaaaaaaaaaaaaaaaa' ends with 'a' repeated 20 times, which Snakemake takes for a "
               "runaway recursion of its rules (PeriodicWildcardError)"),
    ("mix" + "ab" * 25, "ends with 'ab' repeated 25 times"),
    ("x" * 101, "is too long"),
])
def test_a_dataset_name_snakemake_cannot_take_is_refused(default, name, needle):
    cfg = copy.deepcopy(default)
    cfg["datasets"][name] = cfg["datasets"].pop("digits")
    with pytest.raises(ConfigError, match=re.escape(needle)):
        validate_config(cfg)
