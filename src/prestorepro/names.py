"""The paper's names of the methods, for tables, figures and notes (one place for every stage)."""

PAPER_NAMES = {
    # Table 1 (paper §4.1)
    "equal_kmeans": "Equal-KMeans", "kmeans_pp": "KMeans++", "agglomerative": "Agglomerative",
    "gmm": "GMM", "bgmm": "BGMM", "learn_mlr": "Learn-MLR", "presto": "PRESTO",
    # Table 2 (paper §4.2)
    "grasp": "GraSP", "snip": "SNIP", "kd": "KD", "dgkd": "DGKD",
}
TABLE1_METHODS = ("equal_kmeans", "kmeans_pp", "agglomerative", "gmm", "bgmm", "learn_mlr", "presto")

# The two test-time predictors every Table-1 run is evaluated under (SPEC §3): the combiner (App. B.2's
# additional classifier over all K components' logits; the authors' code) and the router (§2.2: pi_phi, or
# a clustering's own assignment rule, sends each instance to one component).
PREDICTORS = ("combiner", "router")


def predictor_scores(metrics: dict, predictor: str, source: str = "") -> dict:
    """One predictor's entry of a Table-1 (or ablation, or PRESTO Table-2) metrics file, with a message
    naming the file and the fix when it holds none (a file written before both predictors existed)."""
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; valid: {', '.join(PREDICTORS)}")
    try:
        return metrics["predictors"][predictor]
    except (KeyError, TypeError):
        where = f" {source}" if source else ""
        raise ValueError(f"metrics file{where} has no scores for the {predictor} predictor (written by an older "
                         "version of the pipeline?); delete it and re-run its training job") from None
