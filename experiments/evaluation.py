"""The evaluation of an experiment's runs with eval.pipeline, cached per model.

Each model's part of the results (results["models"][name]: per-item records, drift, held-out pairs) is kept in
<experiment>/evaluations/<name>.json with its key: the evaluation settings, the SHA-256 of the suite, BBQ, label
and test-pair files (without --test-pairs: the project's held-out and training pair sets, by content, so a rebuild
into another folder with the same bytes keeps the key), the base model, and for a run the SHA-256 of its adapter
files. A model whose key matches is not evaluated again; the others are evaluated in one eval.pipeline.run call,
each written to the cache as soon as it is scored (an interruption loses at most the model being scored), and the
comparison over all models (seed groups, paired differences) is recomputed by eval.aggregate from the cached parts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from dpo.files import file_sha256, write_text
from eval.aggregate import aggregate
from eval.pipeline import EvalConfig, adapter_folder, project_pair_sets, project_suites, run
from eval.suites import read_suites, select
from strategies import ROOT

NOT_IN_KEY = ("adapters", "runs", "out", "cache_dir", "wandb", "wandb_project")  # settings that do not change a model's scores


def files_digest(paths: list[Path]) -> dict[str, str]:
    """{path, relative to the repository when inside it (a cache moves with its checkout): SHA-256}."""
    def name(p: Path) -> str:
        resolved = p.resolve()
        return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(p)
    return {name(p): file_sha256(p) for p in sorted(paths)}


def settings_key(cfg: EvalConfig) -> dict:
    """What every model's evaluation depends on besides its own weights."""
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_IN_KEY}
    suites = [Path(p) for p in cfg.suites]
    if not suites and not cfg.no_suites:  # the project's folder of suites, label file included
        suites = [p for p in sorted(project_suites()[0].parent.iterdir()) if p.is_file()]
    extra = [Path(p) for p in (cfg.bbq, cfg.labels) if p] + [Path(spec.partition("=")[2]) for spec in cfg.test_pairs]
    pair_sets = {}  # the project's built pair files, by set and content: their folder is named by the builder's code
    if not cfg.test_pairs:  # the project's held-out pairs: a change of the default data is a change of the scores
        pair_sets |= {f"test {name}": file_sha256(path) for name, path in project_pair_sets("test").items()}
    if cfg.training_data:  # the cue controls' classifier and the fact items' seen/unseen come from these
        pair_sets |= {f"train {name}": file_sha256(path) for name, path in project_pair_sets("train").items()}
    return {"settings": settings, "files": files_digest(suites + extra), "pair_sets": pair_sets}


def model_key(settings: dict, adapter: Path | None) -> str:
    """A hash of the settings key and the adapter's files (None: the base model)."""
    files = files_digest([p for p in adapter.iterdir() if p.is_file()]) if adapter else {}
    text = json.dumps({**settings, "adapter": list(files.values())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read_cached(path: Path, key: str) -> dict | None:
    if not path.is_file():
        return None
    cached = json.loads(path.read_text())
    return cached if cached.get("key") == key else None


def cached_models(runs: dict[str, Path], cfg: EvalConfig, cache: Path, force: bool = False) -> tuple[dict, dict]:
    """({model: key}, {model: its cache entry, when the key matches}) for the base and `runs` {name: run folder}."""
    settings = settings_key(cfg)
    keys = {name: model_key(settings, folder and adapter_folder(str(folder))) for name, folder in {"base": None, **runs}.items()}
    return keys, {} if force else {name: c for name in keys if (c := read_cached(cache / f"{name}.json", keys[name]))}


def pending(cfg: EvalConfig, runs: dict[str, Path], cache: Path) -> list[str]:
    """The models an evaluation of `runs` would score now: the base and every run not cached."""
    keys, cached = cached_models(runs, cfg, cache)
    return [name for name in keys if name not in cached]


def work(cfg: EvalConfig) -> tuple[int, int]:
    """(forced-choice options, open answers) the evaluation of one model scores."""
    items = select(read_suites([Path(p) for p in cfg.suites] or project_suites()), cfg.limit, cfg.seed)
    answers = sum(item.kind == "open" for item in items) * (2 if cfg.sampled else 1)
    return sum(len(item.options) for item in items), answers


def evaluate(runs: dict[str, Path], cfg: EvalConfig, cache: Path, *, force: bool = False) -> tuple[dict, list[str]]:
    """(results over the base and `runs` {name: run folder} in eval.pipeline's shape, the models evaluated now)."""
    keys, cached = cached_models(runs, cfg, cache, force)
    todo = [name for name in runs if name not in cached]
    evaluated, scored_before = [], set(cached)
    if todo or "base" not in cached:
        def keep(name: str, entry: dict, so_far: dict) -> None:  # each model cached as soon as it is scored
            header = {k: v for k, v in so_far.items() if k != "models"}
            cached[name] = {"key": keys[name], "model": entry, **({"header": header} if name == "base" else {})}
            write_text(cache / f"{name}.json", json.dumps(cached[name], allow_nan=True))
            if name not in scored_before:  # a cached base that only gains the test pairs' log-probs is not news
                evaluated.append(name)
        run(dataclasses.replace(cfg, adapters=[str(runs[name]) for name in todo], runs=[]),
            done={name: c["model"] for name, c in cached.items()}, on_model=keep)
    models = {name: cached[name]["model"] for name in keys}
    results = {**cached["base"]["header"], "models": models}
    results["config"] = dict(results["config"], adapters=[str(path) for path in runs.values()])
    results.update(aggregate(models, results["cue_scores"], cfg.seed))
    if "bbq" in results:
        results["bbq"] = dict(results["bbq"], models={name: {k: v for k, v in m["bbq"].items() if k != "predictions"}
                                                      for name, m in models.items()})
    return results, evaluated
