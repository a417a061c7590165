"""The catalogue of methods: one entry per method of each stage, the facts every other part reads.

A method is named once, here, with what the rest of the project needs to know of it without running it
(no torch: the config check, the workflow's plans, the report and the forecast read this module):

- its stage: ``table1`` (PRESTO and the partitioning / mixture baselines, Table 1 and Fig. 7),
  ``compress`` (the resource-constrained comparison, Table 2, Fig. 3 and 8) or ``coreset`` (the
  subset-selection baselines, SPEC §7);
- its paper name and the marker its figures draw it with;
- ``options``: the config section of its own options (``<stage>.<options>``: ``coreset.craig``,
  ``table1.moe``), if any; only its own jobs read it;
- Table 1: ``kind``, one of ``KINDS``: ``partitioner`` (a clustering or other fixed partition, then the
  shared training of the K components on its parts; implemented in ``prestorepro.partitioners``, trained
  by the generic runner of ``prestorepro.table1.partitioned``), ``mixture`` (learns its partition and its
  components together: PRESTO, Learn-MLR, the mixture of experts; a runner of its own in
  ``prestorepro.table1``) or ``single`` (one model, no mixture); ``predictors``, the test-time predictors
  it is evaluated under (names of ``PREDICTORS``: the tables show exactly these); ``pca`` (a partitioner
  fitted on the seeded PCA projection of the embeddings; False: on the flattened embeddings, no PCA run),
  ``initialises_presto`` (it may be a dataset's ``init``), ``restarts`` (its fit costs ``table1.n_init``
  restarts, which the forecast scales), ``synthetic`` (it also runs on App. C's synthetic data, beside
  PRESTO);
- coreset: ``selects`` (False: the full-data run), ``reselects`` (every R epochs; False: one selection),
  ``warm`` (GRAD-MATCH §4's warm start on the full data);
- compress: ``role`` (``pruning``: pruned from the reference network; ``student``: distilled from
  ``guides``; ``presto``: PRESTO's own Table-1 run, in sequential mode and swept over K; ``table1``: the
  Table-1 run of the same key at the dataset's K, its memory measured there).

Every implementation registry checks at registration that its key is here (``Registry(..., stage=)``),
and ``check_implemented`` that every entry here has an implementation. Adding a method:
docs/adding-a-method.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

STAGES = ("table1", "compress", "coreset")
# compress roles whose rows are Table-1 runs (no compress job of their own trains them)
TABLE1_ROLES = ("presto", "table1")
# What a Table-1 method is (see the module's docstring).
KINDS = ("partitioner", "mixture", "single")
# The test-time predictors a Table-1 method may be evaluated under, in the order the tables list them, each
# with the sentence the tables' notes print. The combiner (App. B.2's additional classifier over all K
# components' logits; the authors' code) and the router (§2.2: pi_phi, or a clustering's own assignment rule,
# sends each instance to one component) are every mixture's (SPEC §3); a method may declare others of its own.
PREDICTORS: dict[str, str] = {
    "combiner": "one linear layer over the K components' concatenated logits (App. B.2, the authors' code)",
    "router": "each instance predicted by the one component it is routed to (§2.2)",
    "mixture": "the gate-weighted mixture sum_k g_k(x) p_k(y | x) (a mixture of experts' own prediction)",
    "model": "the one model's own prediction (no mixture)",
}
SHARED_PREDICTORS = ("combiner", "router")


@dataclass(frozen=True)
class Method:
    key: str
    stage: str
    paper_name: str
    marker: str = "o"
    options: str | None = None
    # table1
    kind: str | None = None
    predictors: tuple[str, ...] = SHARED_PREDICTORS
    pca: bool = True
    initialises_presto: bool = False
    restarts: bool = False
    synthetic: bool = False
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
        if self.stage == "table1":
            if self.kind not in KINDS:
                raise ValueError(f"table1 method {self.key!r}: kind {self.kind!r} is not one of {', '.join(KINDS)} "
                                 "(docs/adding-a-method.md)")
            unknown = [p for p in self.predictors if p not in PREDICTORS]
            if unknown or not self.predictors or len(set(self.predictors)) != len(self.predictors):
                raise ValueError(f"table1 method {self.key!r}: predictors {list(self.predictors)} must be distinct "
                                 f"names of catalogue.PREDICTORS ({', '.join(PREDICTORS)}); a new one needs its "
                                 "sentence there")

    @property
    def partitioner(self) -> bool:
        """A fixed partition first, then the shared training (``kind == "partitioner"``)."""
        return self.kind == "partitioner"


# In the paper's order within each stage (Table 1's rows, Table 2's rows, the coreset table's).
METHODS: tuple[Method, ...] = (
    # Table 1 (paper §4.1, App. B.4)
    Method("equal_kmeans", "table1", "Equal-KMeans", "s", kind="partitioner", initialises_presto=True, restarts=True),
    Method("kmeans_pp", "table1", "KMeans++", "D", kind="partitioner", initialises_presto=True, restarts=True),
    Method("agglomerative", "table1", "Agglomerative", "^", kind="partitioner"),
    Method("gmm", "table1", "GMM", "v", kind="partitioner"),
    Method("bgmm", "table1", "BGMM", "P", kind="partitioner"),
    Method("learn_mlr", "table1", "Learn-MLR", "X", kind="mixture"),
    Method("presto", "table1", "PRESTO", "o", kind="mixture", synthetic=True),
    # beyond the paper (SPEC §5b): the null baselines and the classical jointly trained mixture
    Method("random", "table1", "Random partition", "x", kind="partitioner", pca=False, initialises_presto=True),
    Method("moe", "table1", "Mixture of experts", "*", kind="mixture", options="moe",
           predictors=("combiner", "router", "mixture"), synthetic=True),
    Method("single", "table1", "One model", "p", kind="single", predictors=("model",)),
    # Table 2 (paper §4.2, App. B.5)
    Method("grasp", "compress", "GraSP", "v", role="pruning"),
    Method("snip", "compress", "SNIP", "^", role="pruning"),
    Method("kd", "compress", "KD", "s", role="student", guides=("teacher",)),
    Method("dgkd", "compress", "DGKD", "D", role="student", guides=("teacher", "assistant")),
    Method("presto", "compress", "PRESTO", "o", role="presto"),
    Method("single", "compress", "One model", "p", role="table1"),
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
    """Table 1's methods of kind ``partitioner`` (``prestorepro.partitioners``)."""
    return [m.key for m in methods("table1") if m.partitioner]


def presto_initialisations() -> list[str]:
    """What a dataset's ``init`` may name: the partitioners that initialise PRESTO (a random partition among them)."""
    return [m.key for m in methods("table1") if m.initialises_presto]


def synthetic_methods() -> list[str]:
    """The Table-1 methods that also run on App. C's synthetic data (PRESTO's own experiment first)."""
    return [m.key for m in methods("table1") if m.synthetic]


def method_predictors(key: str) -> tuple[str, ...]:
    """The test-time predictors of a Table-1 method (its entry's ``predictors``)."""
    return method("table1", key).predictors


def predictor_order(predict: str = "combiner", keys_: Iterable[str] | None = None) -> list[str]:
    """The predictors the Table-1 methods ``keys_`` (default: all) have, ``predict`` first, then in
    ``PREDICTORS``' order: the order of the tables' blocks."""
    have = {p for k in (keys_ if keys_ is not None else keys("table1")) for p in method_predictors(k)}
    rest = [p for p in PREDICTORS if p in have and p != predict]
    return ([predict] if predict in have else []) + rest


def option_sections(stage: str = "coreset") -> list[str]:
    return list(dict.fromkeys(m.options for m in methods(stage) if m.options))


def check_implemented(stage: str, registered: Iterable[str]) -> None:
    """Raise if an entry of ``stage`` has no implementation among the ``registered`` keys (each stage's
    runner calls this once its methods are registered). A Table-2 row that is a Table-1 run (``role`` in
    ``TABLE1_ROLES``: PRESTO, the one model) has none of its own."""
    missing = [m.key for m in methods(stage) if m.key not in set(registered) and m.role not in TABLE1_ROLES]
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


def describe() -> str:
    """The catalogue as Markdown, one table per stage (``python -m prestorepro.catalogue``)."""
    out = []
    for stage in STAGES:
        out += [f"## {stage}", ""]
        if stage == "table1":
            out += ["| key | name | kind | predictors | initialises PRESTO | synthetic data |", "|---|---|---|---|---|---|"]
            out += [f"| {m.key} | {m.paper_name} | {m.kind} | {', '.join(m.predictors)} | "
                    f"{'yes' if m.initialises_presto else ''} | {'yes' if m.synthetic else ''} |" for m in methods(stage)]
        elif stage == "compress":
            out += ["| key | name | role | guides |", "|---|---|---|---|"]
            out += [f"| {m.key} | {m.paper_name} | {m.role} | {', '.join(m.guides)} |" for m in methods(stage)]
        else:
            out += ["| key | name | selects | reselects | warm start |", "|---|---|---|---|---|"]
            out += [f"| {m.key} | {m.paper_name} | {'yes' if m.selects else ''} | {'yes' if m.reselects else ''} | "
                    f"{'yes' if m.warm else ''} |" for m in methods(stage)]
        out.append("")
    out += ["predictors: " + "; ".join(f"{name}: {text}" for name, text in PREDICTORS.items())]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(describe(), end="")
