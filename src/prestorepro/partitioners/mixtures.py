"""GMM and BGMM (App. B.4): scikit-learn's mixtures, k-means initialised; a singular covariance is refitted
with a larger reg_covar."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from prestorepro.partitioners.base import PARTITIONERS, Fitted, PredictRule
from prestorepro.partitioners.parts import PartitionOptions, quiet_fit, repair_note, subsample, subsample_note, top_up_small_parts

REG_COVAR_MAX = 1e-1


def _fit_mixture(model, z: np.ndarray, k: int, seed: int, opts: PartitionOptions, name: str) -> Fitted:
    n = len(z)
    idx = subsample(n, seed, opts)
    default_reg = model.reg_covar
    while True:
        try:
            stopped_early = quiet_fit(model, z if idx is None else z[idx])
            break
        except ValueError as exc:
            # scikit-learn: "Fitting the mixture model failed because some components have ill-defined
            # empirical covariance ... Try to decrease the number of components, or increase reg_covar."
            if "reg_covar" not in str(exc) or model.reg_covar * 10 > REG_COVAR_MAX * (1 + 1e-9):
                raise ValueError(f"{name} with {opts.covariance_type} covariances cannot be fitted even with "
                                 f"reg_covar={model.reg_covar:g}: {exc} Set table1.covariance_type: diag, or "
                                 "lower table1.pca_dim.") from exc
            model.set_params(reg_covar=model.reg_covar * 10)
    labels = np.asarray(model.predict(z), dtype=np.int64)
    notes = [f"{opts.covariance_type} covariances"] + subsample_note(idx, n, "predict")
    if model.reg_covar != default_reg:
        notes.append(f"reg_covar raised from {default_reg:g} to {model.reg_covar:g} (a singular empirical "
                     "covariance at the default)")
    if stopped_early:
        notes.append(f"EM stopped at max_iter={model.max_iter} before reaching tol {model.tol:g}")
    repairs: list[tuple[int, int, int]] = []
    if np.bincount(labels, minlength=k).min() < opts.min_part_size:
        proba = model.predict_proba(z)
        dist = pairwise_distances(z, model.means_)
        repairs = top_up_small_parts(labels, k, opts.min_part_size, proba, dist)
    notes += repair_note(repairs, opts.min_part_size, f"most responsible to {name} component")
    return Fitted(labels, PredictRule(model, f"{name} predict (most responsible component)"), notes, idx, repairs)


@PARTITIONERS.register("gmm")
def _gmm(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> Fitted:
    """Gaussian mixture, k-means init, tol 1e-3 (Bishop 2006; App. B.4)."""
    model = GaussianMixture(
        n_components=k, covariance_type=opts.covariance_type, tol=1e-3, init_params="kmeans", random_state=seed
    )
    return _fit_mixture(model, z, k, seed, opts, "GMM")


@PARTITIONERS.register("bgmm")
def _bgmm(z: np.ndarray, k: int, seed: int, opts: PartitionOptions) -> Fitted:
    """Bayesian Gaussian mixture with a Dirichlet-process weight prior (Attias 1999; App. B.4)."""
    model = BayesianGaussianMixture(
        n_components=k, covariance_type=opts.covariance_type, tol=1e-3, init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process", random_state=seed,
    )
    return _fit_mixture(model, z, k, seed, opts, "BGMM")
