"""The paper's names of the methods, for tables, figures and notes (one place for every stage)."""

PAPER_NAMES = {
    # Table 1 (paper §4.1)
    "equal_kmeans": "Equal-KMeans", "kmeans_pp": "KMeans++", "agglomerative": "Agglomerative",
    "gmm": "GMM", "bgmm": "BGMM", "learn_mlr": "Learn-MLR", "presto": "PRESTO",
    # Table 2 (paper §4.2)
    "grasp": "GraSP", "snip": "SNIP", "kd": "KD", "dgkd": "DGKD",
}
TABLE1_METHODS = ("equal_kmeans", "kmeans_pp", "agglomerative", "gmm", "bgmm", "learn_mlr", "presto")
