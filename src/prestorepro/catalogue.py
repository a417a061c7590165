"""The catalogue of methods: one entry per method of each stage, the facts every other part reads.

A method is named once, here, with what the rest of the project needs to know of it without running it
(no torch: the config check, the workflow's plans, the report and the forecast read this module):

- its stage: ``table1`` (PRESTO and the partitioning / mixture baselines, Table 1 and Fig. 7),
  ``compress`` (the resource-constrained comparison, Table 2, Fig. 3 and 8) or ``coreset`` (the
  subset-selection baselines, SPEC §7);
- its paper name and the marker its figures draw it with;
- ``options``: the config section of its own options (``coreset.<options>``), if any;
- Table 1: ``partitioner`` (a clustering or mixture baseline: the partition is fixed before training
  and a test point is routed by the clustering's own rule; implemented in ``prestorepro.partitioners``),
  ``initialises_presto`` (it may be a dataset's ``init``), ``restarts`` (its fit costs ``table1.n_init``
  restarts, which the forecast scales); every Table-1 method is evaluated under the test-time
  ``PREDICTORS``;
- coreset: ``selects`` (False: the full-data run), ``reselects`` (every R epochs; False: one selection),
  ``warm`` (GRAD-MATCH §4's warm start on the full data);
- compress: ``role`` (``pruning``: pruned from the reference network; ``student``: distilled from
  ``guides``; ``presto``: PRESTO's own Table-1 run).

Every implementation registry checks at registration that its key is here (``Registry(..., stage=)``),
and ``check_implemented`` that every entry here has an implementation. Adding a method:
docs/adding-a-method.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

STAGES = ("table1", "compress", "coreset")
# The two test-time predictors every Table-1 run is evaluated under (SPEC §3): the combiner (App. B.2's
# additional classifier over all K components' logits; the authors' code) and the router (§2.2: pi_phi, or
# a clustering's own assignment rule, sends each instance to one component).
PREDICTORS = ("combiner", "router")


@dataclass(frozen=True)
class Method:
    key: str
    stage: str
    paper_name: str
    marker: str = "o"
    options: str | None = None
    # table1
    partitioner: bool = False
    initialises_presto: bool = False
    restarts: bool = False
    # coreset
    selects: bool = True
    reselects: bool = True
    warm: bool = False
    # compress
    role: str | None = None
    guides: tuple[str, ...] = ()

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"method {self.key!r}: unknown stage {self.stage!r}; valid: {', '.join(STAGES)}")


# In the paper's order within each stage (Table 1's rows, Table 2's rows, the coreset table's).
METHODS: tuple[Method, ...] = (
    # Table 1 (paper §4.1, App. B.4)
    Method("equal_kmeans", "table1", "Equal-KMeans", "s", partitioner=True, initialises_presto=True, restarts=True),
    Method("kmeans_pp", "table1", "KMeans++", "D", partitioner=True, initialises_presto=True, restarts=True),
    Method("agglomerative", "table1", "Agglomerative", "^", partitioner=True),
    Method("gmm", "table1", "GMM", "v", partitioner=True),
    Method("bgmm", "table1", "BGMM", "P", partitioner=True),
    Method("learn_mlr", "table1", "Learn-MLR", "X"),
    Method("presto", "table1", "PRESTO", "o"),
    # Table 2 (paper §4.2, App. B.5)
    Method("grasp", "compress", "GraSP", "v", role="pruning"),
    Method("snip", "compress", "SNIP", "^", role="pruning"),
    Method("kd", "compress", "KD", "s", role="student", guides=("teacher",)),
    Method("dgkd", "compress", "DGKD", "D", role="student", guides=("teacher", "assistant")),
    Method("presto", "compress", "PRESTO", "o", role="presto"),
    # coreset baselines (SPEC §7)
    Method("full", "coreset", "Full", "*", selects=False, reselects=False),
    Method("random", "coreset", "Random", "o"),
    Method("random_warm", "coreset", "Random-Warm", "s", warm=True),
    Method("craig", "coreset", "CRAIG", "^", options="craig"),
    Method("gradmatch", "coreset", "GRAD-MATCH", "D", options="gradmatch"),
    Method("gradmatch_warm", "coreset", "GRAD-MATCH-Warm", "P", options="gradmatch", warm=True),
    Method("gradmatch_pb", "coreset", "GRAD-MATCH-PB", "X", options="gradmatch"),
    Method("pbcs", "coreset", "PBCS", "v", options="pbcs", reselects=False),
)


def _index() -> dict[tuple[str, str], Method]:
    out: dict[tuple[str, str], Method] = {}
    for m in METHODS:
        if (m.stage, m.key) in out:
            raise ValueError(f"catalogue: {m.stage} method {m.key!r} is listed twice")
        out[(m.stage, m.key)] = m
    return out


_BY_KEY = _index()


def methods(stage: str) -> list[Method]:
    """The stage's methods, in the paper's order."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(STAGES)}")
    return [m for m in METHODS if m.stage == stage]


def keys(stage: str) -> list[str]:
    return [m.key for m in methods(stage)]


def method(stage: str, key: str) -> Method:
    """The entry of ``key`` in ``stage``; a miss lists the stage's methods and names this file."""
    try:
        return _BY_KEY[(stage, key)]
    except KeyError:
        raise KeyError(f"{key!r} is not a {stage} method of the catalogue; valid: {', '.join(keys(stage))} "
                       "(a new method needs an entry in src/prestorepro/catalogue.py)") from None


def has(stage: str, key: str) -> bool:
    return (stage, key) in _BY_KEY


def paper_name(key: str, stage: str | None = None) -> str:
    """The paper's name of a method (the first stage that has it, or ``stage``'s); the key itself if none."""
    for s in ([stage] if stage else STAGES):
        if has(s, key):
            return method(s, key).paper_name
    return key


def partitioners() -> list[str]:
    """Table 1's clustering and mixture baselines (``prestorepro.partitioners``)."""
    return [m.key for m in methods("table1") if m.partitioner]


def presto_initialisations() -> list[str]:
    """What a dataset's ``init`` may name: the partitioners that initialise PRESTO, or a random partition."""
    return [m.key for m in methods("table1") if m.initialises_presto] + ["random"]


def option_sections(stage: str = "coreset") -> list[str]:
    return list(dict.fromkeys(m.options for m in methods(stage) if m.options))


def check_implemented(stage: str, registered: Iterable[str]) -> None:
    """Raise if an entry of ``stage`` has no implementation among the ``registered`` keys (each stage's
    runner calls this once its methods are registered). Table 2's PRESTO (``role="presto"``) is the
    Table-1 run itself and has none of its own."""
    missing = [m.key for m in methods(stage) if m.key not in set(registered) and m.role != "presto"]
    if missing:
        raise RuntimeError(f"catalogue: {stage} method(s) {', '.join(missing)} have no implementation: register "
                           "one under the same key, or remove the entry (docs/adding-a-method.md)")


def predictor_scores(metrics: dict, predictor: str, source: str = "") -> dict:
    """One predictor's entry of a Table-1 (or ablation, or PRESTO Table-2) metrics file, with a message
    naming the file and the fix when it holds none (a file written before both predictors existed)."""
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; valid: {', '.join(PREDICTORS)}")
    scores = metrics.get("predictors") if isinstance(metrics, dict) else None
    if isinstance(scores, dict) and predictor in scores:
        return scores[predictor]
    where = f" {source}" if source else ""
    raise ValueError(f"metrics file{where} has no scores for the {predictor} predictor (written by an older "
                     "version of the pipeline?); delete it and re-run its training job")
