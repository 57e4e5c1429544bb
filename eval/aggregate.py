"""From every model's per-item records to the report's numbers: runs grouped over seeds, each metric of
eval.metrics.METRICS per group with its interval over seeds and clustered items, the cue-rule rows, and the
paired comparisons (each group against the base, and every two tuned groups against each other), and each group
against the base again on the items a classifier cue rule gets wrong ("against the cue": a word regression trained
on a training pair set, eval.cues.classifier_scores, picks the other option there, so a gain on them is not that
cue's).

Runs are one group when their run folders' config.json hold the same settings apart from the seed and the
bookkeeping fields (SEED_FREE); a group's values are (S, n, ...) for its S runs. A lone run is a group of one.
"""
from __future__ import annotations

import json
import os
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np

from eval.metrics import METRICS, Metric
from eval.stats import compare, estimate, mean_ci

SEED_FREE = frozenset({"seed", "out", "resume", "wandb", "wandb_project", "wandb_run_name", "device", "cache_dir"})


def group_key(adapter: str | os.PathLike | None) -> str | None:
    """The settings of a run that are not its seed (None when the adapter has no run folder config.json)."""
    if adapter is None:
        return None
    config = Path(adapter).parent / "config.json"
    if Path(adapter).name != "adapter" or not config.is_file():
        return None
    settings = json.loads(config.read_text()).get("config", {})
    return json.dumps({k: v for k, v in settings.items() if k not in SEED_FREE}, sort_keys=True)


def group_label(names: list[str]) -> str:
    """The runs' common name prefix without a trailing seed mark, else the first name."""
    if len(names) == 1:
        return names[0]
    prefix = os.path.commonprefix(names).rstrip("-_ ")
    for mark in ("-seed", "_seed", "-s", "_s"):
        prefix = prefix.removesuffix(mark)
    return f"{prefix or names[0]} ({len(names)} seeds)"


def groups(models: dict[str, dict]) -> dict[str, list[str]]:
    """{label: [run names]}: the base alone, then runs grouped by group_key, in order of first appearance."""
    keyed: dict[str, list[str]] = {}
    for name, m in models.items():
        key = "base" if m.get("adapter") is None else (group_key(m["adapter"]) or f"run:{name}")
        keyed.setdefault(key, []).append(name)
    return {("base" if key == "base" else group_label(names)): names for key, names in keyed.items()}


def stacked(metric: Metric, runs: list[dict]) -> tuple[list[str], list[str], np.ndarray] | None:
    """(unit ids, clusters, values (S, n, ...)) of a metric over runs, on the units every run has."""
    per_run = [metric.units(r.get("records", [])) for r in runs]
    if not per_run or not per_run[0][0]:
        return None
    common = set(per_run[0][0]).intersection(*(set(ids) for ids, _, _ in per_run[1:]))
    ids = [u for u in per_run[0][0] if u in common]
    if not ids:
        return None
    clusters = dict(zip(per_run[0][0], per_run[0][1]))
    values = np.stack([v[[list(run_ids).index(u) for u in ids]] for run_ids, _, v in per_run])
    return ids, [clusters[u] for u in ids], values


def on_units(series, keep: set[str]):
    """A stacked series (ids, clusters, values (S, n, ...)) restricted to the units in `keep`."""
    ids, clusters, values = series
    idx = [i for i, u in enumerate(ids) if u in keep]
    return [ids[i] for i in idx], [clusters[i] for i in idx], values[:, idx]


def aligned(a, b):
    """Two stacked series restricted to their shared units, in a's order."""
    shared = [u for u in a[0] if u in set(b[0])]
    ia, ib = [a[0].index(u) for u in shared], [b[0].index(u) for u in shared]
    return [a[1][i] for i in ia], a[2][:, ia], b[2][:, ib]


def aggregate(models: dict[str, dict], cues: dict[str, dict[str, float]], seed: int = 0) -> dict:
    """{"groups": {label: {"runs", "metrics": {key: Estimate json}}}, "cue_controls": {rule: {key: Estimate json}},
    "vs_base": {label: {key: Comparison json}}, "between": {"a vs b": {key: Comparison json}},
    "against_cue": {rule: {label: {key: Comparison json}}}} (vs the base on the items the rule scores 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN groups in a resample: the draw is skipped
        grouped = groups(models)
        series = {label: {m.key: stacked(m, [models[n] for n in names]) for m in METRICS} for label, names in grouped.items()}
        out: dict = {"groups": {}, "cue_controls": {}, "vs_base": {}, "between": {}, "against_cue": {}}
        for label, names in grouped.items():
            out["groups"][label] = {"runs": names, "metrics": {
                m.key: estimate(s[2], s[1], stat=m.stat, seed=seed).to_json()
                for m in METRICS if (s := series[label][m.key]) is not None}}
        base = series.get("base", {})
        for rule, scores in cues.items():
            out["cue_controls"][rule] = {}
            for m in METRICS:
                s = base.get(m.key)
                if m.cue and s is not None and all(u in scores for u in s[0]):
                    out["cue_controls"][rule][m.key] = mean_ci([scores[u] for u in s[0]], s[1], seed=seed).to_json()
        def comparisons(a_label: str, b_label: str, keep: set[str] | None = None) -> dict:
            result = {}
            for m in METRICS:
                a, b = series[a_label].get(m.key), series[b_label].get(m.key)
                if a is not None and b is not None and (keep is None or m.cue):
                    clusters, va, vb = aligned(a if keep is None else on_units(a, keep), b)
                    if clusters:
                        result[m.key] = compare(va, vb, clusters, stat=m.stat, seed=seed).to_json()
            return result
        tuned = [label for label in grouped if label != "base"]
        out["between"] = {f"{a} vs {b}": comparisons(a, b) for a, b in combinations(tuned, 2)}
        if "base" in grouped:
            out["vs_base"] = {label: comparisons(label, "base") for label in tuned}
            for rule in (r for r in cues if r.startswith("bow")):  # the classifier rules (eval.cues.classifier_scores)
                wrong = {u for u, score in cues[rule].items() if score == 0.0}
                out["against_cue"][rule] = {label: comparisons(label, "base", wrong) for label in tuned}
    return out
