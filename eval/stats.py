"""Statistics of the evaluation: a bootstrap clustered by situation and over seeds, paired comparisons.

Data: a metric's per-unit values for one model, `values` (S, n, ...) for S runs (seeds) and n units (items or
pairs), each unit in a cluster (the item's meta.situation, else its pair; eval.suites.Item.cluster). A
statistic `stat(v)` reduces a (S', n', ...) array to a number (e.g. the mean).

- estimate: stat over all values, and its 95% percentile interval over N_BOOT resamples that draw the
  clusters with replacement (whole clusters: items of one situation are not independent) and, when S > 1,
  the seeds with replacement: an interval over seeds and items (none from a single cluster of a single run).
- compare: the paired difference stat(a) - stat(b) on the units both models have, each resample drawing
  the same clusters for both (and seeds for each); two-sided bootstrap p-value
      p = min(1, 2 min((1 + #{d* <= 0}) / (B + 1), (1 + #{d* >= 0}) / (B + 1))),
  and for binary per-item outcomes of single runs the exact McNemar test on the discordant items
  (b: a right and b wrong, c: the reverse): p = min(1, 2 sum_{i <= min(b, c)} C(b + c, i) / 2^(b + c)).
  McNemar ignores clusters; the bootstrap p-value does not (and needs at least two clusters).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Hashable, Sequence

import numpy as np

N_BOOT = 1000
ALPHA = 0.05


@dataclass
class Estimate:
    """A point estimate with its 95% bootstrap interval [lo, hi] over n units (in `clusters` clusters, S seeds)."""
    value: float
    lo: float
    hi: float
    n: int
    clusters: int = 0
    seeds: int = 1

    def to_json(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


@dataclass
class Comparison:
    """stat(a) - stat(b) on shared units, its bootstrap interval and p-values."""
    diff: Estimate
    p_bootstrap: float
    p_mcnemar: float | None = None
    discordant: tuple[int, int] | None = None  # (a right b wrong, a wrong b right)

    def to_json(self) -> dict:
        return {"diff": self.diff.to_json(), "p_bootstrap": self.p_bootstrap, "p_mcnemar": self.p_mcnemar,
                "discordant": list(self.discordant) if self.discordant else None}


def mean_stat(v: np.ndarray) -> float:
    return float(np.mean(v)) if v.size else math.nan


def cluster_members(clusters: Sequence[Hashable]) -> list[np.ndarray]:
    """Unit indices of each distinct cluster, in order of first appearance."""
    index: dict[Hashable, list[int]] = {}
    for i, c in enumerate(clusters):
        index.setdefault(c, []).append(i)
    return [np.array(m, dtype=np.int64) for m in index.values()]


def resample_weights(members: list[np.ndarray], seed_counts: Sequence[int], rng: np.random.Generator,
                     n_boot: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """n_boot resamples as multiplicities: unit_w (n_boot, n), how often each unit is drawn (its whole cluster
    drawn with replacement, k draws of k clusters), and per model with S runs, seed_w (n_boot, S), how often each
    run is drawn (S draws with replacement; a single run always once)."""
    k, n = len(members), sum(len(m) for m in members)
    cluster_of = np.empty(n, dtype=np.int64)
    for j, m in enumerate(members):
        cluster_of[m] = j
    runs = {m: np.empty((n_boot, s), dtype=np.int64) for m, s in enumerate(seed_counts) if s > 1}
    if not runs:  # one stream of cluster draws: all at once (the same numbers as n_boot calls)
        clusters = rng.integers(0, k, (n_boot, k))
    else:  # per resample: the clusters, then each model's runs
        clusters = np.empty((n_boot, k), dtype=np.int64)
        for i in range(n_boot):
            clusters[i] = rng.integers(0, k, k)
            for m, r in runs.items():
                r[i] = rng.integers(0, seed_counts[m], seed_counts[m])
    seed_w = [_counts(runs[m], s) if m in runs else np.ones((n_boot, 1), dtype=np.int64)
              for m, s in enumerate(seed_counts)]
    cluster_w = _counts(clusters, k)
    return cluster_w[:, cluster_of], seed_w


def _counts(draws: np.ndarray, m: int) -> np.ndarray:
    """(B, m) how often each of 0..m-1 occurs in each row of draws (B, d)."""
    offsets = np.arange(draws.shape[0])[:, None] * m
    return np.bincount((draws + offsets).ravel(), minlength=draws.shape[0] * m).reshape(draws.shape[0], m)


def resampled_stats(values: np.ndarray, unit_w: np.ndarray, seed_w: np.ndarray,
                    stat: Callable[[np.ndarray], float]) -> np.ndarray:
    """stat of each resample (n_boot,) of values (S, n, ...). The mean of a resample is the weighted mean
    sum_{s,u} seed_w[s] unit_w[u] v[s, u] / (sum seed_w * sum unit_w), one matrix product for all resamples;
    any other stat (or values with NaN) sees each resample's rows and units repeated by their weights."""
    if stat is mean_stat and values.ndim == 2 and not np.isnan(values).any():
        return np.einsum("bn,bn->b", seed_w @ values, unit_w) / (seed_w.sum(1) * unit_w.sum(1))
    seeds, units = np.arange(seed_w.shape[1]), np.arange(unit_w.shape[1])
    return np.array([stat(values[np.repeat(seeds, sw)][:, np.repeat(units, uw)]) for sw, uw in zip(seed_w, unit_w)],
                    dtype=np.float64)


def _interval(value: float, draws: np.ndarray) -> tuple[float, float]:
    draws = draws[~np.isnan(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(draws, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(lo), float(hi)


def estimate(values: np.ndarray, clusters: Sequence[Hashable] | None = None, *,
             stat: Callable[[np.ndarray], float] = mean_stat, seed: int = 0, n_boot: int = N_BOOT) -> Estimate:
    """stat(values) with its clustered bootstrap interval; values (S, n, ...): S runs, n units; clusters
    (n,) labels, None = every unit its own cluster."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 2:
        raise ValueError(f"values must be (S runs, n units, ...), got shape {values.shape}")
    n_seeds, n = values.shape[:2]
    members = cluster_members(clusters if clusters is not None else range(n))
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, 0, n_seeds)
    value = float(stat(values))
    if len(members) < 2 and n_seeds < 2:  # one cluster: every resample is the data itself, no interval
        return Estimate(value, math.nan, math.nan, n, len(members), n_seeds)
    unit_w, (seed_w,) = resample_weights(members, [n_seeds], np.random.default_rng(seed), n_boot)
    draws = resampled_stats(values, unit_w, seed_w, stat)
    return Estimate(value, *_interval(value, draws), n, len(members), n_seeds)


def mean_ci(values: Sequence[float], clusters: Sequence[Hashable] | None = None, *, seed: int = 0) -> Estimate:
    """Mean of the per-unit values (n,) of one run with its (clustered) bootstrap interval."""
    return estimate(np.asarray(values, dtype=np.float64).reshape(1, -1), clusters, seed=seed)


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> tuple[float, int, int]:
    """Exact two-sided McNemar p-value of paired binary outcomes, and the discordant counts (b, c)."""
    right_wrong = sum(1 for x, y in zip(a, b) if x and not y)
    wrong_right = sum(1 for x, y in zip(a, b) if y and not x)
    n = right_wrong + wrong_right
    if n == 0:
        return 1.0, 0, 0
    tail = sum(math.comb(n, i) for i in range(min(right_wrong, wrong_right) + 1)) / 2 ** n
    return min(1.0, 2 * tail), right_wrong, wrong_right


def compare(a: np.ndarray, b: np.ndarray, clusters: Sequence[Hashable] | None = None, *,
            stat: Callable[[np.ndarray], float] = mean_stat, seed: int = 0, n_boot: int = N_BOOT) -> Comparison:
    """Paired comparison of two models on the same n units: a (S_a, n, ...) and b (S_b, n, ...)."""
    a, b = (np.asarray(x, dtype=np.float64) for x in (a, b))
    if a.ndim < 2 or b.ndim < 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"paired comparison needs (S, n, ...) values on the same n units, got {a.shape} and {b.shape}")
    n = a.shape[1]
    members = cluster_members(clusters if clusters is not None else range(n))
    if n == 0:
        return Comparison(Estimate(math.nan, math.nan, math.nan, 0), math.nan)
    value = float(stat(a) - stat(b))
    k = len(members)
    unit_w, (wa, wb) = resample_weights(members, [a.shape[0], b.shape[0]], np.random.default_rng(seed), n_boot)
    draws = resampled_stats(a, unit_w, wa, stat) - resampled_stats(b, unit_w, wb, stat)
    valid = draws[~np.isnan(draws)]
    p = math.nan
    if valid.size and k >= 2:  # one cluster: every resample is the data itself, no test
        below, above = (1 + np.sum(valid <= 0)) / (valid.size + 1), (1 + np.sum(valid >= 0)) / (valid.size + 1)
        p = float(min(1.0, 2 * min(below, above)))
    diff = Estimate(value, *_interval(value, draws), n, k, max(a.shape[0], b.shape[0]))
    binary = a.ndim == 2 and a.shape[0] == b.shape[0] == 1 and np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()
    if binary:
        p_mc, rw, wr = mcnemar(a[0] > 0.5, b[0] > 0.5)
        return Comparison(diff, p, p_mc, (rw, wr))
    return Comparison(diff, p)
