"""Experiment files: plain Python defining the runs of one experiment.

  runs = {"name": TrainConfig(...), ...}    # or `config = TrainConfig(...)` for a single run
  base = TrainConfig(...)                   # optional: the runs' settings are shown as differences from it
  evaluation = {"limit": 0, ...}            # optional: eval.pipeline.EvalConfig fields for every run
  prepare = [["generate.py", "--n", "308"]] # optional: commands run first (scripts of the repository; each
                                            # must be quick when its work is already done)
  gpu = {"device": "cuda", ...}             # optional: runner flags that scale the experiment up on a GPU

Helpers for writing them:
  variant(base, **changes)   dataclasses.replace, or Unavailable when changes.algo is not installed here
  seeds(runs, (0, 1, 2))     each run once per seed, named NAME-seedS (the evaluation groups them back)
  with_generated_legends(cfg, n)   cfg, or Unavailable until generate.py has written n legends
  run_folder("rm")           a string field pointing at another run's folder (e.g. reward_model), resolved
                             by the runner once that earlier run has finished
"""
from __future__ import annotations

import dataclasses
import runpy
from dataclasses import dataclass, field
from pathlib import Path

from dpo.config import ALGOS, TrainConfig

REF = "run:"


@dataclass(frozen=True)
class Unavailable:
    """A run this checkout cannot train, and why (the runner reports it instead of failing). `like`: the
    settings it would have, as far as this checkout's TrainConfig holds them, and its `algo` (for estimates)."""
    reason: str
    like: TrainConfig | None = None
    algo: str = ""


Run = TrainConfig | Unavailable


@dataclass
class Experiment:
    name: str  # the file's stem: results go to experiments/results/<name>/
    runs: dict[str, Run]
    base: TrainConfig = field(default_factory=TrainConfig)
    evaluation: dict = field(default_factory=dict)
    prepare: list[list[str]] = field(default_factory=list)
    gpu: dict = field(default_factory=lambda: {"device": "cuda"})


def variant(base: TrainConfig, **changes) -> Run:
    """`base` with `changes`; Unavailable when changes["algo"] is not an algorithm of this checkout."""
    algo = changes.get("algo", base.algo)
    if algo not in ALGOS:
        known = {f.name for f in dataclasses.fields(TrainConfig)} - {"algo"}
        like = dataclasses.replace(base, **{k: v for k, v in changes.items() if k in known})
        return Unavailable(f"algo {algo} not installed", like, algo)
    return dataclasses.replace(base, **changes)


def with_generated_legends(cfg: TrainConfig, n: int) -> Run:
    """cfg when `python generate.py` has written at least n legends (strategies.GENERATED_LEGENDS), else
    Unavailable saying how to write them (not a `prepare` step: hours for the embedded model on a CPU)."""
    from strategies import GENERATED_LEGENDS
    written = sum(1 for line in GENERATED_LEGENDS.open(encoding="utf-8") if line.strip()) if GENERATED_LEGENDS.is_file() else 0
    if written >= n:
        return cfg
    return Unavailable(f"{written} of {n} generated legends in {GENERATED_LEGENDS.name}: write them first with "
                       f"`python generate.py --n {n}` (~8.5 h for 308 on 2 CPU cores: the 135M model keeps ~3% of its "
                       f"drafts; minutes with --backend openai on a served model)", cfg, cfg.algo)


def seeds(runs: dict[str, Run], values: tuple[int, ...] = (0, 1, 2)) -> dict[str, Run]:
    """Every run once per seed: {NAME-seedS: run with seed S}."""
    def seeded(run: Run, s: int) -> Run:
        if isinstance(run, Unavailable):
            return dataclasses.replace(run, like=run.like and dataclasses.replace(run.like, seed=s))
        return dataclasses.replace(run, seed=s)
    return {f"{name}-seed{s}": seeded(run, s) for name, run in runs.items() for s in values}


def run_folder(name: str) -> str:
    """A reference to the folder of the earlier run `name`, for a string field such as reward_model."""
    return REF + name


def references(cfg: TrainConfig) -> dict[str, str]:
    """{field: run name} of the fields of `cfg` that point at another run's folder."""
    return {f.name: v[len(REF):] for f in dataclasses.fields(cfg)
            if isinstance(v := getattr(cfg, f.name), str) and v.startswith(REF)}


def load(path: str | Path) -> Experiment:
    """The experiment defined by a Python file, checked: every run a TrainConfig or Unavailable, every
    reference to an earlier run of the file, the optional names of the right kind."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {path} does not exist")
    namespace = runpy.run_path(str(path))
    runs = dict(namespace.get("runs") or {})
    if "config" in namespace:
        runs.setdefault(path.stem, namespace["config"])
    if not runs:
        raise ValueError(f"{path}: defines neither `config = TrainConfig(...)` nor `runs = {{name: TrainConfig}}`")
    for name, run in runs.items():
        if not isinstance(run, (TrainConfig, Unavailable)):
            raise ValueError(f"{path}: run {name!r} is a {type(run).__name__}, not a TrainConfig")
        earlier = list(runs)[:list(runs).index(name)]
        for key, ref in (references(run) if isinstance(run, TrainConfig) else {}).items():
            if ref not in earlier:
                raise ValueError(f"{path}: run {name!r}: {key}={REF}{ref} names no earlier run (earlier: "
                                 f"{', '.join(earlier) or 'none'})")
    base = namespace.get("base")
    extra = {key: namespace[key] for key in ("evaluation", "prepare", "gpu") if key in namespace}
    for key, kind in (("evaluation", dict), ("prepare", list), ("gpu", dict)):
        if not isinstance(extra.get(key, kind()), kind):
            raise ValueError(f"{path}: `{key}` must be a {kind.__name__}, got {type(extra[key]).__name__}")
    return Experiment(path.stem, runs, base if isinstance(base, TrainConfig) else TrainConfig(), **extra)
