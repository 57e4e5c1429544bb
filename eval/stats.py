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


def _draws(members: list[np.ndarray], n_seeds: int, rng: np.random.Generator, n_boot: int):
    """n_boot resamples: (seed indices, unit indices), clusters and seeds drawn with replacement."""
    k = len(members)
    for _ in range(n_boot):
        units = np.concatenate([members[j] for j in rng.integers(0, k, k)])
        seeds = rng.integers(0, n_seeds, n_seeds) if n_seeds > 1 else np.zeros(1, dtype=np.int64)
        yield seeds, units


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
    rng = np.random.default_rng(seed)
    draws = np.array([stat(values[s][:, u]) for s, u in _draws(members, n_seeds, rng, n_boot)], dtype=np.float64)
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
    rng = np.random.default_rng(seed)
    k = len(members)
    draws = np.empty(n_boot)
    for i in range(n_boot):
        units = np.concatenate([members[j] for j in rng.integers(0, k, k)])
        sa = rng.integers(0, a.shape[0], a.shape[0]) if a.shape[0] > 1 else np.zeros(1, dtype=np.int64)
        sb = rng.integers(0, b.shape[0], b.shape[0]) if b.shape[0] > 1 else np.zeros(1, dtype=np.int64)
        draws[i] = stat(a[sa][:, units]) - stat(b[sb][:, units])
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
