"""Greedy maximisation of the facility-location function (CRAIG §3.2, Eq. 8-12).

    F(S) = sum_i max(0, max_{j in S} s_ij),    s_ij = C - ||g_i - g_j||,

with C the largest pairwise distance among the points (the CRAIG code's ``max(D) - D``); the
``max(0, .)`` is the auxiliary element s_0 of Eq. 11, so F(empty) = 0 and F is monotone submodular.
Greedy reaches F(S) >= (1 - 1/e) max_{|S'| = k} F(S') (Nemhauser et al. 1978).

Three greedy variants, registered in ``GREEDY``:
- ``naive``: every step evaluates every remaining element (reference; O(n^2) per step).
- ``lazy``: Minoux's accelerated greedy. Marginal gains only shrink as S grows (submodularity), so
  stale gains are upper bounds: the element whose *fresh* gain tops all upper bounds is the greedy
  choice. Stale elements are refreshed a batch at a time (the top ``lazy_batch`` upper bounds), so
  a step is a few vectorised column evaluations instead of a Python loop over heap pops. Picks the
  same elements as ``naive`` (up to exact floating-point ties).
- ``stochastic``: "lazier than lazy" greedy (Mirzasoleiman et al., AAAI 2015): each step evaluates
  a uniform sample of ceil((n / k) ln(1 / epsilon)) remaining elements and takes the best;
  E[F(S)] >= (1 - 1/e - epsilon) OPT.

Memory. A class of n <= ``dense_limit`` points keeps its n x n similarity matrix. Larger classes
never form it: the stochastic greedy computes the n x m similarities of each step's m candidates
in row blocks, and C is replaced by the bound 2 max_i ||g_i - mean(g)|| >= max distance. Any C at
least the largest distance gives the same greedy choices: gains are n C - sum_i d_ie for the first
element and sum_i max(0, min_{j in S} d_ij - d_ie) afterwards, neither depends on C.

Each selected element serves the points it is most similar to (its facility-location
assignment, CRAIG Alg. 1 line 8); ``assignment`` holds, for every point, the position in
``selected`` of the element serving it.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from prestorepro.registry import Registry

_log = logging.getLogger(__name__)

DEFAULT_DENSE_LIMIT = 20000
DEFAULT_BLOCK_ROWS = 256   # rows per block of the n x n matrix computation
CANDIDATE_BLOCK_ENTRIES = 1 << 22  # largest temporary (rows x candidates) of the blocked similarity


@dataclass(frozen=True)
class SimilarityMemory:
    """How the pairwise similarities are held (see Memory above): a class of at most ``dense_limit`` points
    keeps its n x n similarity matrix, computed ``block_rows`` rows at a time; a larger one never forms it."""

    dense_limit: int = DEFAULT_DENSE_LIMIT
    block_rows: int = DEFAULT_BLOCK_ROWS


def pairwise_distances(x: np.ndarray, y: np.ndarray, *, block_rows: int = DEFAULT_BLOCK_ROWS,
                       out_dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Euclidean distances (len(x), len(y)), computed in float64 row blocks.

    ||a||^2 + ||b||^2 - 2 a.b is a BLAS product, far faster than an exact per-pair loop; float64
    keeps its cancellation error ~1e-8 relative, and the row blocks bound the temporary memory.
    """
    out = np.empty((x.shape[0], y.shape[0]), dtype=out_dtype)
    y64 = np.asarray(y, dtype=np.float64)
    ysq = np.einsum("ij,ij->i", y64, y64)
    for start in range(0, x.shape[0], block_rows):
        xb = np.asarray(x[start:start + block_rows], dtype=np.float64)
        d2 = xb @ y64.T  # in-place from here: one temporary per block
        d2 *= -2.0
        d2 += np.einsum("ij,ij->i", xb, xb)[:, None]
        d2 += ysq[None, :]
        np.maximum(d2, 0.0, out=d2)
        out[start:start + block_rows] = np.sqrt(d2, out=d2)
    return out


def similarity_matrix(grads: np.ndarray, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Dense CRAIG similarities ``max_dist - ||g_i - g_j||`` (n, n), in float32 for float32 input
    (half the memory) and float64 otherwise."""
    dtype = np.float32 if grads.dtype == np.float32 else np.float64
    s = pairwise_distances(grads, grads, block_rows=block_rows, out_dtype=dtype)
    c = s.max() if s.size else 0.0
    np.subtract(c, s, out=s)
    return s


class _DenseSimilarity:
    """The n x n matrix. It is symmetric, so column j is read as row j (contiguous memory); gains
    run in the matrix's dtype through torch's in-place kernels (no float64 n x b temporaries)."""

    def __init__(self, sim: np.ndarray, block_rows: int = DEFAULT_BLOCK_ROWS):
        self.sim = sim
        self.n = sim.shape[0]
        self.dtype = sim.dtype
        self.block_rows = block_rows
        self._sim_t = torch.from_numpy(sim)

    def gains(self, cand: np.ndarray, cur: np.ndarray) -> np.ndarray:
        rows = self._sim_t.index_select(0, torch.from_numpy(np.ascontiguousarray(cand, dtype=np.int64)))
        rows.sub_(torch.from_numpy(cur)).clamp_(min=0.0)
        # torch's cascade summation in the matrix dtype: float32 sums of n terms are good to ~1e-6
        # relative, far below the gaps greedy decides on, and twice as fast as upcasting first
        return rows.sum(dim=1).double().numpy()

    def column(self, e: int) -> np.ndarray:
        return self.sim[e]

    def all_gains(self, cur: np.ndarray) -> np.ndarray:
        return np.concatenate([self.gains(np.arange(s, min(s + self.block_rows, self.n)), cur)
                               for s in range(0, self.n, self.block_rows)])


class _BlockedSimilarity:
    """Similarity columns computed on demand, in row blocks of at most ``CANDIDATE_BLOCK_ENTRIES``
    entries (never n x n), in float32 for float32 input (as the dense matrix is stored) and float64
    otherwise. The points are centred first: distances do not change, and the
    ||a||^2 + ||b||^2 - 2 a.b expansion loses less to cancellation."""

    def __init__(self, grads: np.ndarray):
        self.dtype = np.dtype(np.float32 if grads.dtype == np.float32 else np.float64)
        g = np.asarray(grads, dtype=np.float64)
        g = g - g.mean(axis=0)
        self.n = g.shape[0]
        sq = np.einsum("ij,ij->i", g, g)
        # C >= every distance: ||g_i - g_j|| <= ||g_i|| + ||g_j|| for centred g (see module docstring)
        self.c = 2.0 * float(np.sqrt(sq.max())) if self.n else 0.0
        self.g = torch.from_numpy(g.astype(self.dtype))
        self.sq = torch.from_numpy(sq.astype(self.dtype))

    def _shifted_neg_distances(self, rows: slice, cand: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """base[rows, None] - ||g_rows - g_cand||, in place on one (rows, m) temporary."""
        d = torch.addmm(self.sq[rows, None], self.g[rows], self.g[cand].T, alpha=-2.0)
        d.add_(self.sq[cand]).clamp_(min=0.0).sqrt_()
        return d.neg_().add_(base[rows, None])

    def gains(self, cand: np.ndarray, cur: np.ndarray) -> np.ndarray:
        cand_t = torch.from_numpy(np.ascontiguousarray(cand, dtype=np.int64))
        headroom = self.c - torch.from_numpy(cur)  # s_ie - cur_i = (C - cur_i) - d_ie
        step = max(1, CANDIDATE_BLOCK_ENTRIES // max(cand.size, 1))
        out = torch.zeros(cand.size, dtype=torch.float64)
        for start in range(0, self.n, step):
            rows = slice(start, start + step)
            out += self._shifted_neg_distances(rows, cand_t, headroom).clamp_(min=0.0).sum(dim=0).double()
        return out.numpy()

    def column(self, e: int) -> np.ndarray:
        full = torch.full((self.n,), self.c, dtype=self.g.dtype)
        return self._shifted_neg_distances(slice(0, self.n), torch.tensor([e]), full)[:, 0].numpy()

    def all_gains(self, cur: np.ndarray) -> np.ndarray:
        return np.concatenate([self.gains(np.arange(s, min(s + 256, self.n)), cur) for s in range(0, self.n, 256)])


@dataclass
class FacilityLocationResult:
    selected: np.ndarray     # (k,) element ids in the order greedy picked them
    assignment: np.ndarray   # (n,) position in `selected` of the element serving each point (-1 if k = 0)
    value: float             # F(selected) under the similarity used

    def cluster_sizes(self) -> np.ndarray:
        """|C_j| for every selected element j (CRAIG's weights gamma_j)."""
        served = self.assignment[self.assignment >= 0]
        return np.bincount(served, minlength=self.selected.size).astype(np.float64)


class _State:
    """Running max similarity to S (``cur``) and the serving element, updated per selection."""

    def __init__(self, n: int, dtype: np.dtype | type = np.float64):
        self.cur = np.zeros(n, dtype=dtype)  # the similarity's dtype: compared and maxed with its columns
        self.assign = np.full(n, -1, dtype=np.int64)
        self.selected: list[int] = []

    def add(self, e: int, col: np.ndarray) -> None:
        # ties keep the earlier element; points at similarity 0 (the auxiliary element's level)
        # still need a server, hence the `assign < 0` clause
        better = (col > self.cur) | (self.assign < 0)
        self.assign[better] = len(self.selected)
        np.maximum(self.cur, col, out=self.cur)
        self.selected.append(int(e))


GreedyFn = Callable[..., None]
GREEDY: Registry[GreedyFn] = Registry("facility-location greedy")


@GREEDY.register("naive")
def _naive(sim, state: _State, k: int, rng: np.random.Generator | None, **_: object) -> None:
    taken = np.zeros(sim.n, dtype=bool)
    for _step in range(k):
        gains = sim.all_gains(state.cur)
        gains[taken] = -np.inf
        e = int(np.argmax(gains))
        taken[e] = True
        state.add(e, sim.column(e))


@GREEDY.register("lazy")
def _lazy(sim, state: _State, k: int, rng: np.random.Generator | None, *, lazy_batch: int = 32, **_: object) -> None:
    upper = sim.all_gains(state.cur)  # exact gains w.r.t. the empty set
    fresh = np.ones(sim.n, dtype=bool)
    batch = max(1, min(int(lazy_batch), sim.n))
    for _step in range(k):
        while True:
            top = int(np.argmax(upper))
            if fresh[top]:
                break
            # refresh the `batch` largest upper bounds (always including `top`) in one evaluation
            if batch < sim.n:
                cand = np.argpartition(-upper, batch - 1)[:batch]
            else:
                cand = np.arange(sim.n)
            cand = cand[np.isfinite(upper[cand])]
            upper[cand] = sim.gains(cand, state.cur)
            fresh[cand] = True
        state.add(top, sim.column(top))
        upper[top] = -np.inf
        fresh[:] = False


@GREEDY.register("stochastic")
def _stochastic(sim, state: _State, k: int, rng: np.random.Generator | None, *, epsilon: float = 0.01,
                **_: object) -> None:
    if rng is None:
        raise ValueError("the stochastic greedy needs rng= (a numpy.random.Generator)")
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon}")
    sample = max(1, math.ceil(sim.n / k * math.log(1.0 / epsilon))) if k else 0
    taken = np.zeros(sim.n, dtype=bool)
    for _step in range(k):
        remaining = np.flatnonzero(~taken)
        cand = remaining if sample >= remaining.size else rng.choice(remaining, size=sample, replace=False)
        e = int(cand[np.argmax(sim.gains(cand, state.cur))])
        taken[e] = True
        state.add(e, sim.column(e))


def greedy_facility_location(grads: np.ndarray, k: int, *, greedy: str = "lazy",
                             rng: np.random.Generator | None = None, epsilon: float = 0.01,
                             dense_limit: int = DEFAULT_DENSE_LIMIT, block_rows: int = DEFAULT_BLOCK_ROWS,
                             lazy_batch: int = 32) -> FacilityLocationResult:
    """Pick ``k`` of the rows of ``grads`` (n, D) greedily maximising facility location.

    More than ``dense_limit`` points run the stochastic greedy on blocked distances whatever
    ``greedy`` says (logged): without the n x n matrix, the lazy variant's start (all n gains) and
    its many refreshes per step would recompute O(n^2) distances over and over.
    ``block_rows``: rows per block of the dense matrix computation.
    """
    greedy_fn = GREEDY.get(greedy)
    g = np.asarray(grads)
    n = g.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"k must lie in [0, {n}], got {k}")
    if k == 0:
        return FacilityLocationResult(np.zeros(0, np.int64), np.full(n, -1, np.int64), 0.0)
    if n <= dense_limit:
        sim = _DenseSimilarity(similarity_matrix(g, block_rows=block_rows), block_rows)
    else:
        sim = _BlockedSimilarity(g)
        if greedy != "stochastic":
            _log.info("facility location on %d > dense_limit=%d points: stochastic greedy (epsilon=%g) "
                      "on blocked distances instead of %r", n, dense_limit, epsilon, greedy)
            greedy_fn = GREEDY.get("stochastic")
    state = _State(n, sim.dtype)
    greedy_fn(sim, state, k, rng, epsilon=epsilon, lazy_batch=lazy_batch)
    value = float(state.cur.sum(dtype=np.float64))
    return FacilityLocationResult(np.asarray(state.selected, dtype=np.int64), state.assign, value)
