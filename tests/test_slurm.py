"""The SLURM profile (workflow/profiles/slurm) on a real single-node SLURM cluster.

`python -m pytest -m slurm` starts munged/slurmctld/slurmd with tests/slurm/cluster.sh (root, Debian 12,
SLURM 22.05; the packages are installed if missing), runs a workflow once locally and once through
sbatch, and checks that
- every non-local job went through sbatch (SLURM's job-completion log, squeue --states=all and the
  per-job SLURM logs), with the run time the profile asks for, and that no download ran on a compute
  node;
- a retried job got `mem_mb` and `runtime` multiplied by its attempt number;
- the metrics (every JSON under results/) equal the local run's, apart from the provenance timestamp
  (`created`), the commit and measured run times/memory (VOLATILE_KEYS, VOLATILE_SUFFIXES).
The daemons the fixture started are stopped by their PIDs afterwards.

Two workflows: `toy` (tests/slurm/toy, five rules in seconds, with one rule that fails on its first
attempt) and `main` (the repository's own workflow on tests/configs/every_rule.yaml: the embedded
default in small sizes, every rule of it; a default-suite test checks that it plans the same rules).

The tests without the slurm marker check the profile files themselves and run in the default suite.
"""
from __future__ import annotations

import collections
import json
import math
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE_SLURM = REPO / "workflow" / "profiles" / "slurm"
PROFILE_LOCAL = REPO / "workflow" / "profiles" / "default"
CLUSTER_SH = REPO / "tests" / "slurm" / "cluster.sh"
TOY = REPO / "tests" / "slurm" / "toy"
STATE = Path(os.environ.get("PRESTO_SLURM_DIR", "/var/lib/prestorepro-slurm"))
# wall-clock limit of one SLURM run; it is killed with SIGKILL, as a hung status check ignores SIGTERM
SLURM_RUN_TIMEOUT_S = int(os.environ.get("PRESTO_SLURM_TIMEOUT", "2400"))
# cores of the local run = largest thread count of a SLURM job, so both runs compute with equal threads
THREADS = min(2, os.cpu_count() or 1)

# What legitimately differs between two runs of the same code and config: the provenance timestamp,
# the commit (unknown in the copies the runs work in), measured times and ratios of them, and the
# measured-memory blocks (`memory` in the compress stage, `peak_memory` with its sample count in the
# coreset stage).
VOLATILE_KEYS = frozenset({"created", "git_commit", "seconds", "time_s", "duration_s", "memory", "peak_memory",
                           "selection_training_ratio"})
VOLATILE_SUFFIXES = ("_seconds", "_mib")

# "Job 7 has been submitted with SLURM jobid 2 (log: <run>/.snakemake/slurm_logs/rule_<rule>/<wildcards>/2.log)."
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def megabytes(mem: str) -> int:
    """A SLURM memory amount ('4000M', '8G') in MB."""
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}[mem[-1]]
    return round(float(mem[:-1]) * scale)


def normalised(obj, roots: tuple[str, ...]):
    """JSON value without volatile keys, with the run's own directory replaced by '<run>'."""
    if isinstance(obj, dict):
        return {
            k: normalised(v, roots)
            for k, v in obj.items()
            if k not in VOLATILE_KEYS and not k.endswith(VOLATILE_SUFFIXES)
        }
    if isinstance(obj, list):
        return [normalised(v, roots) for v in obj]
    if isinstance(obj, str):
        for root in roots:
            obj = obj.replace(root, "<run>")
    return obj


def without_dumped_logs(log: str) -> str:
    """Snakemake's own log without the job logs it prints after a failure (`show-failed-logs`): a
    failed SLURM job's log shows that job running as a `localrule` inside its allocation."""
    return re.sub(r"^Logfile .*:\n(=+)\n.*?^\1$", "", log, flags=re.M | re.S)


def differences(a, b, path: str = "") -> list[str]:
    """Key paths at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r:.80} != {b!r:.80}"]


def job_stats(log: str) -> collections.Counter:
    """The 'Job stats' table Snakemake prints before running: rule -> number of jobs."""
    lines = log[log.index("Job stats:") :].splitlines()[3:]
    counts = collections.Counter()
    for line in lines:
        name, count = line.split()
        if name == "total":
            return counts
        counts[name] = int(count)
    raise AssertionError("no 'total' line in Snakemake's job stats")


def profile_expression(rule: str, resource: str) -> str:
    profile = yaml.safe_load((PROFILE_SLURM / "config.yaml").read_text())
    per_rule = (profile.get("set-resources") or {}).get(rule, {})
    return str(per_rule.get(resource, profile["default-resources"][resource]))


def profile_value(rule: str, resource: str, attempt: int, input_mb: float = 0.0) -> float:
    """A profile resource expression evaluated as Snakemake does, for an input of `input_mb` MB."""
    inputs = types.SimpleNamespace(size_mb=input_mb)
    return eval(profile_expression(rule, resource), {"attempt": attempt, "input": inputs})  # noqa: S307


def copy_workflow(src: Path, dst: Path) -> None:
    """Copy a workflow without results or run state: the files git would track, else the tree."""
    listed = subprocess.run(
        ["git", "-C", str(src), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "."],
        capture_output=True, text=True,
    )
    toplevel = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    ).stdout.strip()
    if listed.returncode == 0 and Path(toplevel or "/nonexistent").resolve() == src.resolve():
        for rel in filter(None, listed.stdout.split("\0")):
            if (src / rel).is_file():
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, dst / rel)
    else:
        shutil.copytree(
            src, dst, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("results", ".snakemake", "__pycache__", "logs"),
        )


def run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str], timeout: float) -> str:
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    text = log.read_text()
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited with {proc.returncode} (137 = killed after {SLURM_RUN_TIMEOUT_S} s) in "
        f"{cwd}; last lines of {log}:\n" + "\n".join(text.splitlines()[-60:])
    )
    return text


def squeue_states(env: dict[str, str]) -> dict[str, str]:
    """Job id -> state of every job slurmctld still remembers (MinJobAge)."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T"],
        capture_output=True, text=True, env=env, timeout=30, check=True,
    ).stdout
    return dict(line.strip().split("|") for line in out.splitlines())


def completed_jobs() -> dict[str, dict[str, str]]:
    """Job id -> fields of SLURM's job-completion log (JobCompType=jobcomp/filetxt): one line per job
    that ended, kept however long ago it ended."""
    records = {}
    for line in (STATE / "jobcomp.log").read_text().splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        records[fields["JobId"]] = fields
    return records


def granted_mb(record: dict[str, str]) -> int:
    return megabytes(re.search(r"mem=([\d.]+[KMGT])", record["Tres"]).group(1))


def granted_minutes(record: dict[str, str]) -> float:
    return math.inf if record["TimeLimit"] == "UNLIMITED" else float(record["TimeLimit"])


# ----------------------------------------------------------------------------------------------
# checks of the profile files (default suite, no cluster)
# ----------------------------------------------------------------------------------------------
def test_slurm_profile_grows_memory_and_runtime_with_attempt():
    for rule in ("prepare_data", "embed", "train_table1", "train_guide", "train_compress",
                 "train_coreset", "train_coreset_full", "synthetic_experiment",
                 "train_ablation", "synthetic_ablation", "make_table1"):
        for resource in ("mem_mb", "runtime"):
            first = profile_value(rule, resource, attempt=1, input_mb=100.0)
            assert first > 0
            assert profile_value(rule, resource, attempt=3, input_mb=100.0) == pytest.approx(3 * first)
    # memory follows the input size: 1 GB more input asks for more memory
    assert profile_value("embed", "mem_mb", 1, 1000.0) > profile_value("embed", "mem_mb", 1, 0.0)
    profile = yaml.safe_load((PROFILE_SLURM / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    # GPUs are requested through resources, never through slurm_extra (the plugin rejects --gres there)
    assert "slurm_extra" not in str(profile)


def _rules_requesting_gpu() -> set[str]:
    """Rules whose `resources:` block asks for `gpu` (one GPU with `device: cuda`)."""
    rules = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"^(?=rule |checkpoint )", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"(?:rule|checkpoint) (\w+):", block).group(1)
            if re.search(r"^\s+gpu=", block, re.M):
                rules.add(name)
    return rules


def test_every_gpu_rule_can_be_sent_to_the_gpu_partition_with_the_training_entry():
    """A rule that takes a GPU must have its own profile entry (so one `slurm_partition` line routes it)
    with the long training run time, not the 30-minute default."""
    gpu_rules = _rules_requesting_gpu()
    assert {"embed", "train_table1", "train_coreset", "train_coreset_full"} <= gpu_rules
    per_rule = yaml.safe_load((PROFILE_SLURM / "config.yaml").read_text())["set-resources"]
    assert gpu_rules <= set(per_rule), f"no profile entry for {sorted(gpu_rules - set(per_rule))}"
    for rule in gpu_rules - {"embed"}:
        assert per_rule[rule] == per_rule["train_table1"], rule  # the shared YAML anchor
    assert profile_value("train_coreset", "runtime", 1) >= 240


def test_one_line_sends_every_gpu_rule_and_nothing_else_to_the_gpu_partition():
    text = (PROFILE_SLURM / "config.yaml").read_text()
    line = re.findall(r"^( *)# (slurm_partition: \"gpu\") .*$", text, re.M)
    assert len(line) == 1, line  # one line to uncomment, no other partition line
    indent, setting = line[0]
    uncommented = re.sub(r"^ *# slurm_partition: \"gpu\" .*$", indent + setting, text, flags=re.M)
    per_rule = yaml.safe_load(uncommented)["set-resources"]
    on_gpu = {rule for rule, res in per_rule.items() if res.get("slurm_partition") == "gpu"}
    assert on_gpu == _rules_requesting_gpu(), on_gpu ^ _rules_requesting_gpu()
    assert "slurm_partition" not in yaml.safe_load(uncommented).get("default-resources", {})


def test_table_figure_and_summary_jobs_are_local_rules():
    # they run on the submit host (seconds each), never queued alone: every rule but the data and
    # training ones, by its `localrule: True`
    local, queued = set(), set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            (local if re.search(r"^    localrule: True$", block, re.M) else queued).add(name)
    assert {r for r in local | queued if r.startswith(("make_", "summarize_"))} | {"table1_point", "download_data"} == local
    assert queued == {"prepare_data", "embed", "train_table1", "synthetic_experiment", "synthetic_method", "train_guide",
                      "train_compress", "train_coreset", "train_coreset_full", "train_ablation", "synthetic_ablation"}


def test_local_profile_is_local():
    profile = yaml.safe_load((PROFILE_LOCAL / "config.yaml").read_text())
    assert "executor" not in profile
    assert profile["cores"] >= 1 and profile["keep-going"] is False and profile["rerun-incomplete"] is True


def test_partition_example_sends_gpu_jobs_to_gpu_partition():
    plugin = pytest.importorskip("snakemake_executor_plugin_slurm.partitions")
    partitions = plugin.read_partition_file(PROFILE_SLURM / "partitions.example.yaml")

    class Job:  # the attributes get_best_partition reads
        def __init__(self, **resources):
            self.name, self.threads, self.resources = "embed", 4, resources

    logger = types.SimpleNamespace(debug=print, info=print, warning=print)
    cpu_job = Job(mem_mb=8000, runtime=60)
    gpu_job = Job(mem_mb=8000, runtime=60, gpu=1)
    h100_job = Job(mem_mb=8000, runtime=60, gpu=1, gpu_model="h100")
    v100_job = Job(mem_mb=8000, runtime=60, gpu=1, gpu_model="v100")
    assert plugin.get_best_partition(partitions, cpu_job, logger) == "cpu"
    assert plugin.get_best_partition(partitions, gpu_job, logger) == "gpu"
    assert plugin.get_best_partition(partitions, h100_job, logger) == "gpu"
    assert plugin.get_best_partition(partitions, v100_job, logger) is None  # no such model there


def test_slurm_profile_dry_run_on_toy(tmp_path):
    copy_workflow(TOY, tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", str(PROFILE_SLURM), "--dry-run",
         "--slurm-no-account", "--slurm-status-command", "squeue"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # 2 downloads, 2 preparations, 2 x 2 trainings, 1 table, 1 retry check, `all`
    assert job_stats(out.stdout + out.stderr)["train_table1"] == 4
    assert re.search(r"rule train_table1:.*?runtime=240", out.stdout + out.stderr, re.S)


# ----------------------------------------------------------------------------------------------
# the real cluster
# ----------------------------------------------------------------------------------------------
def _cluster_is_up() -> bool:
    return subprocess.run(["bash", str(CLUSTER_SH), "status"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def slurm_env():
    """Environment for talking to the test cluster; starts it, and stops it if this fixture started it."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        reason = "the SLURM test needs root and either the Debian slurm packages or apt-get"
        if os.environ.get("CI"):
            pytest.fail(reason + " on CI")
        pytest.skip(reason)
    started_here = not _cluster_is_up()
    subprocess.run(["bash", str(CLUSTER_SH), "up"], check=True, timeout=900, stdout=subprocess.DEVNULL)
    env = dict(os.environ, SLURM_CONF=str(STATE / "slurm.conf"), OMP_NUM_THREADS=str(THREADS))
    try:
        yield env
    finally:
        if started_here:
            subprocess.run(["bash", str(CLUSTER_SH), "down"], timeout=120)


MAIN_CONFIG = ["--configfile", "tests/configs/every_rule.yaml"]
WORKFLOWS = {
    # src, extra arguments for the local run, for the SLURM run, whether a retry must happen
    "toy": (TOY, ["--retries", "1"], [], True),
    # no retries: a failure should fail the test at once, not after three attempts
    "main": (REPO, MAIN_CONFIG, MAIN_CONFIG + ["--retries", "0"], False),
}


def test_main_slurm_config_runs_every_rule_of_the_embedded_default(tmp_path):
    # the SLURM test's config is smaller than config/config.yaml, never narrower: the same rules run
    from snakemake_plan import planned_jobs

    default = planned_jobs(results=tmp_path / "a")
    small = planned_jobs(*MAIN_CONFIG, results=tmp_path / "b")
    assert set(small) == set(default), set(small) ^ set(default)
    assert all(small[r] >= 1 for r in default)


@pytest.mark.slurm
@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_slurm_run_equals_local_run(name, tmp_path, slurm_env):
    src, local_args, slurm_args, expect_retry = WORKFLOWS[name]
    if not (src / "Snakefile").is_file():
        pytest.skip(f"{src}/Snakefile does not exist yet")
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    copy_workflow(src, local_dir)
    copy_workflow(src, slurm_dir)
    snakemake = [sys.executable, "-m", "snakemake"]

    def env_for(copy: Path) -> dict[str, str]:
        # each run imports the package from its own copy, so both run the code as it was at the start
        if not (copy / "src").is_dir():
            return slurm_env
        return dict(slurm_env, PYTHONPATH=os.pathsep.join(filter(None, [str(copy / "src"), os.environ.get("PYTHONPATH")])))

    run(snakemake + ["--profile", str(PROFILE_LOCAL), "--cores", str(THREADS)] + local_args,
        local_dir, tmp_path / "local.log", env_for(local_dir), timeout=SLURM_RUN_TIMEOUT_S)

    log = run(
        ["timeout", "-s", "KILL", str(SLURM_RUN_TIMEOUT_S)] + snakemake + [
            "--profile", str(PROFILE_SLURM),
            # the test cluster has no accounting database and no accounts
            "--slurm-status-command", "squeue", "--slurm-no-account",
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-keep-successful-logs",
            # the node has THREADS CPUs; sbatch rejects a job asking for more
            "--max-threads", str(THREADS),
        ] + slurm_args,
        slurm_dir, tmp_path / "slurm.log", env_for(slurm_dir), timeout=SLURM_RUN_TIMEOUT_S + 60,
    )

    # --- the jobs went through sbatch --------------------------------------------------------
    submitted = SUBMITTED.findall(log)
    assert submitted, "no job was submitted to SLURM"
    records = completed_jobs()
    for jobid, _ in submitted:
        assert jobid in records, f"SLURM job {jobid} is missing from the job-completion log"
        assert records[jobid]["WorkDir"] == str(slurm_dir), records[jobid]
    # the jobs squeue still remembers (MinJobAge) agree with the completion log; the last one is there
    states = squeue_states(slurm_env)
    assert submitted[-1][0] in states
    assert all(states[j] == records[j]["JobState"] for j, _ in submitted if j in states)

    # one group of attempts per job, told apart by the directory of its SLURM log: rule_<rule>/<wildcards>
    attempts = collections.defaultdict(list)
    for jobid, slurm_log in submitted:
        assert Path(slurm_log).is_file(), f"SLURM log {slurm_log} of job {jobid} is missing"
        attempts[Path(slurm_log).parent].append(jobid)
    stats = job_stats(log)
    local_rules = set(re.findall(r"^localrule (\w+):", without_dumped_logs(log), re.M))

    def rule_of(log_dir: Path) -> str:
        part = next(p for p in log_dir.relative_to(slurm_dir / ".snakemake" / "slurm_logs").parts)
        assert part.startswith("rule_") and part[5:] in stats, f"{log_dir} names no rule of {sorted(stats)}"
        return part[5:]

    ran_on_slurm = collections.Counter(rule_of(d) for d in attempts)
    expected = collections.Counter({r: n for r, n in stats.items() if r not in local_rules})
    assert ran_on_slurm == expected, f"jobs on SLURM {dict(ran_on_slurm)} != non-local jobs {dict(expected)}"
    assert not local_rules & set(ran_on_slurm)
    downloads_on_slurm = [r for r in ran_on_slurm if r.startswith("download")]
    assert not downloads_on_slurm, f"{downloads_on_slurm} ran on compute nodes; they must be localrules"
    if name == "main":  # the toy submits its table job on purpose (sbatch for every kind of job)
        reports_on_slurm = [r for r in ran_on_slurm if r.startswith(("make_", "summarize_")) or r == "table1_point"]
        assert not reports_on_slurm, f"{reports_on_slurm} ran on compute nodes; they must be local rules"
        assert {r for r in stats if r.startswith(("make_", "summarize_")) or r == "table1_point"} <= local_rules

    per_rule = yaml.safe_load((PROFILE_SLURM / "config.yaml").read_text()).get("set-resources") or {}
    for log_dir, ids in attempts.items():
        rule = rule_of(log_dir)
        *failed, last = ids
        assert records[last]["JobState"] == "COMPLETED", f"{log_dir}: last SLURM job is {records[last]}"
        assert all(records[j]["JobState"] == "FAILED" for j in failed), [records[j] for j in failed]
        first = records[ids[0]]
        for attempt, jobid in enumerate(ids, start=1):
            if rule in per_rule:
                # set-resources win over the rule's own resources: the profile's values reached sbatch
                assert granted_minutes(records[jobid]) == pytest.approx(profile_value(rule, "runtime", attempt)), (
                    rule, attempt, records[jobid])
                assert granted_mb(records[jobid]) >= profile_value(rule, "mem_mb", attempt) - 1
            # a retry asks for `attempt` times the memory and time of the first try (same input)
            assert granted_mb(records[jobid]) == pytest.approx(attempt * granted_mb(first), abs=1)
            assert granted_minutes(records[jobid]) == pytest.approx(attempt * granted_minutes(first))
    retried = [str(d) for d, ids in attempts.items() if len(ids) > 1]
    assert bool(retried) == expect_retry, f"retried jobs: {retried}"

    # --- the results equal the local run's ----------------------------------------------------
    def metrics(root: Path) -> dict[str, object]:
        roots = (str(root.resolve()), str(root))
        return {
            str(p.relative_to(root)): normalised(json.loads(p.read_text()), roots)
            for p in sorted((root / "results").rglob("*.json"))
            # the workflow's bookkeeping (.settings stamps, .cache: matplotlib's font list, which differs
            # between the two environments), not results
            if not any(part.startswith(".") for part in p.relative_to(root / "results").parts)
        }

    local, on_slurm = metrics(local_dir), metrics(slurm_dir)
    assert local, f"the local run wrote no JSON under {local_dir / 'results'}"
    assert sorted(on_slurm) == sorted(local)
    differing = {rel: differences(local[rel], on_slurm[rel]) for rel in local if local[rel] != on_slurm[rel]}
    assert not differing, "local != SLURM run:\n" + "\n".join(
        f"{rel}: {diffs[:5]}" for rel, diffs in differing.items())
