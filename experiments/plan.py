"""What the runner will do with each run of an experiment, decided from its run folder:

  new          no run folder (config.json) yet
  finished     its output exists (adapter/, model/ or reward_model/), started with the same resolved settings
               and the same data: the SHA-256 of its pair files as recorded in its config.json
  resume       the same settings and data, stopped before its end: continue from the last checkpoint
  stale        settings or data differ from its folder's (or a run it depends on is trained again): the old
               folder moves to stale/ and the run starts over
  unavailable  the file marks it so (e.g. an algorithm this checkout does not have)
  blocked      it needs an earlier run that is unavailable, blocked or failed
  error        its data cannot be resolved (e.g. generated legends not written yet)
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import strategies
from dpo.config import RESUME_FREE, TrainConfig, resume_conflicts
from dpo.data import DataError
from dpo.files import file_sha256
from dpo.loss import REFERENCE_FREE
from dpo.precision import resolve_precision
from dpo.run import DataPlan, resolve_device
from dpo.trainer import latest_checkpoint

from .spec import Unavailable, references

OUTPUTS = ("adapter/adapter_model.safetensors", "model/config.json", "reward_model/reward_model.safetensors")
NOT_SHOWN = set(RESUME_FREE) | {"out"}  # settings left out of a run's description
TO_TRAIN = ("new", "stale", "resume")


@dataclass
class Planned:
    name: str
    status: str
    why: str = ""
    cfg: TrainConfig | None = None  # resolved: run folder in `out`, references replaced by folders, overrides applied
    data: DataPlan | None = None
    pairs: int = 0  # training pairs (or prompts) the run will sample
    done_steps: int = 0  # steps already saved (resume)
    needs: tuple[str, ...] = ()  # earlier runs whose folders it uses


def finished(run_dir: Path) -> bool:
    return any((run_dir / output).is_file() for output in OUTPUTS)


def data_changes(record: dict, data: DataPlan) -> list[str]:
    """Which of the run folder's recorded pair files (train, eval) no longer have the recorded SHA-256."""
    now = {"train_files": data.train, "eval_files": data.eval}
    return [f"{key.replace('_', ' ')} changed" for key, files in now.items()
            if [f["sha256"] for f in record.get(key, [])] != [file_sha256(p) for p in files]]


def count_pairs(data: DataPlan, limit: int) -> int:
    available = sum(1 for f in data.train for line in Path(f).open(encoding="utf-8") if line.strip())
    return min(limit, available) if limit else available


def describe(cfg: TrainConfig, base: TrainConfig) -> str:
    """The settings of `cfg` that differ from `base` (its precision resolved as the runs' are), as field=value."""
    base = dataclasses.replace(base, precision=resolve_precision(base.precision, resolve_device(base.device)))
    return " ".join(f"{f.name}={getattr(cfg, f.name)}" for f in dataclasses.fields(cfg)
                    if f.name not in NOT_SHOWN and getattr(cfg, f.name) != getattr(base, f.name)) or "(the base)"


def reference_key(p: Planned) -> tuple | None:
    """What a run's reference pass depends on (runs sharing a key share the cached pass); None: no pass."""
    cfg = p.cfg
    if cfg is None or cfg.algo != "dpo" or cfg.loss in REFERENCE_FREE:
        return None
    return (tuple(map(str, p.data.train)), tuple(p.data.weights or ()), cfg.max_train_pairs, cfg.seed, cfg.model,
            cfg.max_length, cfg.max_prompt_length, cfg.precision)


def assess(name: str, run: TrainConfig | Unavailable, root: Path, overrides: dict, earlier: dict[str, Planned]) -> Planned:
    """The status of one run (see the module docstring), given the statuses of the runs before it."""
    if isinstance(run, Unavailable):
        return Planned(name, "unavailable", run.reason)
    run_dir = root / name
    cfg = dataclasses.replace(run, **overrides, out=str(run_dir), resume="")
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, resolve_device(cfg.device)))  # as recorded
    needs, retrained = tuple(references(cfg).values()), []
    for key, ref in references(cfg).items():
        dep = earlier.get(ref)
        if dep is not None and dep.status not in TO_TRAIN + ("finished",):
            return Planned(name, "blocked", f"needs {ref} ({dep.status})", cfg)
        if dep is None and not finished(root / ref):
            return Planned(name, "blocked", f"needs {ref}, not finished (left out by --only)", cfg)
        if dep is not None and dep.status in ("new", "stale"):
            retrained.append(ref)
        cfg = dataclasses.replace(cfg, **{key: str(root / ref)})
    try:
        data = strategies.resolve(cfg)
        pairs = count_pairs(data, cfg.max_train_pairs)
    except (DataError, FileNotFoundError, ValueError) as e:
        return Planned(name, "error", str(e), cfg)
    planned = Planned(name, "new", "", cfg, data, pairs, needs=needs)
    if not (run_dir / "config.json").is_file():
        return planned
    record = json.loads((run_dir / "config.json").read_text())
    try:
        saved = TrainConfig(**record["config"])
        differ = [f"{k}: {getattr(saved, k)!r} -> {v!r}" for k, v in dataclasses.asdict(cfg).items()
                  if k in resume_conflicts(saved, {**dataclasses.asdict(cfg), "out": saved.out})]
    except (TypeError, ValueError) as e:  # written by another version of TrainConfig
        differ = [f"settings unreadable ({e})"]
    why = differ + data_changes(record.get("data", {}), data) + [f"{ref} is trained again" for ref in retrained]
    if why:
        return dataclasses.replace(planned, status="stale", why="; ".join(why))
    if finished(run_dir):
        return dataclasses.replace(planned, status="finished")
    last = latest_checkpoint(run_dir / "checkpoints")
    return dataclasses.replace(planned, status="resume", done_steps=int(last.name.split("-")[1]) if last else 0)


def plan_runs(runs: dict[str, TrainConfig | Unavailable], root: Path, overrides: dict) -> list[Planned]:
    """The status of every run, in the file's order."""
    earlier: dict[str, Planned] = {}
    for name, run in runs.items():
        earlier[name] = assess(name, run, root, overrides, earlier)
    return list(earlier.values())

