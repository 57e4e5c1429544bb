"""Strategies: which pair files a run trains and evaluates on, and which trainer runs it (train_one).

Stands above dpo/ (which knows pair files, never strategies) and below the scripts:

  exposure   the hand-written pairs of data/exposure/authored/ (train; validation for eval), or with
             --exposure-source builder the exposure builder's splits (--citations, --proportionality)
  legends    legends pairs (legends.pairs) built on the same scenarios; --legends-source, --legends-format
  mixed      both, sampled at shares (1 - mix, mix)
  --data F   any pair files instead (then eval pairs come only from --eval-data)
"""
from __future__ import annotations

from pathlib import Path

from dpo.config import TrainConfig
from dpo.run import DataPlan, run_training
from exposure.builder import CITATIONS
from legends.pairs import FORMATS as LEGENDS_FORMATS

NAMES = ("exposure", "legends", "mixed")
LEGENDS_SOURCES = ("authored", "generated")  # or a path to a legends JSONL file
EXPOSURE_SOURCES = ("authored", "builder")
CHOICES = {"strategy": NAMES, "legends_format": LEGENDS_FORMATS, "citations": CITATIONS,
           "exposure_source": EXPOSURE_SOURCES}  # for dpo.config.build_parser
ROOT = Path(__file__).resolve().parent
AUTHORED_EXPOSURE = ROOT / "data" / "exposure" / "authored"  # train (992: rounds 1-4), validation (32): README
AUTHORED_LEGENDS = ROOT / "data" / "legends" / "authored.jsonl"
GENERATED_LEGENDS = ROOT / "data" / "legends" / "legends.jsonl"


def check(cfg: TrainConfig) -> None:
    """Refuse unknown strategy settings at start, with the accepted values."""
    if cfg.strategy not in NAMES:
        raise ValueError(f"strategy must be one of {NAMES}, got {cfg.strategy!r}")
    if not 0.0 <= cfg.mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1], got {cfg.mix}")
    if cfg.legends_format not in LEGENDS_FORMATS:
        raise ValueError(f"legends_format must be one of {LEGENDS_FORMATS}, got {cfg.legends_format!r}")
    if cfg.exposure_source not in EXPOSURE_SOURCES:
        raise ValueError(f"exposure_source must be one of {EXPOSURE_SOURCES}, got {cfg.exposure_source!r}")
    if cfg.citations not in CITATIONS:
        raise ValueError(f"citations must be one of {CITATIONS}, got {cfg.citations!r}")
    if not 0.0 <= cfg.proportionality < 1.0:
        raise ValueError(f"proportionality must be in [0, 1), got {cfg.proportionality}")
    if cfg.legends_source not in LEGENDS_SOURCES and not Path(cfg.legends_source).suffix == ".jsonl":
        raise ValueError(f"legends_source must be one of {LEGENDS_SOURCES} or a .jsonl file, got {cfg.legends_source!r}")


def legends_file(source: str) -> Path:
    """The legends JSONL a source names: the authored corpus, generate.py's output, or a given file."""
    path = {"authored": AUTHORED_LEGENDS, "generated": GENERATED_LEGENDS}.get(source, Path(source))
    if not path.is_file():
        hint = ("write legends with `python generate.py --n 5000`" if source == "generated"
                else "check the path, or use --legends-source authored")
        raise FileNotFoundError(f"{path}: no legends file ({hint}), or pass --data FILE")
    return path


def exposure_config(cfg: TrainConfig):
    from exposure.builder import BuildConfig
    return BuildConfig(seed=0, citations=cfg.citations, proportionality=cfg.proportionality)


def resolve(cfg: TrainConfig) -> DataPlan:
    """The pair files of `cfg`, building the strategy's data first when it is missing or stale."""
    check(cfg)
    if cfg.data:
        return DataPlan([Path(p) for p in cfg.data], [Path(p) for p in cfg.eval_data])
    train, evals = [], []
    if cfg.strategy in ("exposure", "mixed"):
        if cfg.exposure_source == "authored":
            built = {split: AUTHORED_EXPOSURE / f"{split}.jsonl" for split in ("train", "validation")}
        else:
            from exposure.builder import ensure_built
            built = ensure_built(config=exposure_config(cfg))
        train.append(built["train"])
        evals.append(built["validation"])
    if cfg.strategy in ("legends", "mixed"):
        from legends.pairs import ensure_pairs
        built = ensure_pairs(legends_file(cfg.legends_source), fmt=cfg.legends_format, exposure=exposure_config(cfg))
        train.append(built["train"])
        evals.append(built["validation"])
    weights = [1 - cfg.mix, cfg.mix] if cfg.strategy == "mixed" else None
    return DataPlan(train, [Path(p) for p in cfg.eval_data] or evals, weights)


def train_one(cfg: TrainConfig) -> Path:
    """Train one run: the pair files of cfg's strategy, then the trainer of cfg.algo (dpo: dpo.run; rm, ppo,
    grpo: rlhf.run); returns the run folder. The one entry point of train.py and experiments/run.py."""
    plan = resolve(cfg)
    if cfg.algo == "dpo":
        return run_training(cfg, plan)
    from rlhf.run import run_rlhf
    return run_rlhf(cfg, plan)
