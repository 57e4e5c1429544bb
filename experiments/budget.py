"""Estimated wall time of an experiment: a simple model, printed by `--dry-run` as an estimate.

  run        = start-up + reference pass + steps x s/step
  steps      = max_steps, else ceil(pairs x epochs / (batch_size x grad_accum)), minus the steps already saved
  s/step     = the median step_time of this experiment's runs of the same model and algo (metrics.jsonl), else
               STEP_SECONDS (LoRA DPO, 4 pairs x max_length 384); scaled by tokens a step and by ALGO_FACTOR
  reference  = pairs x REFERENCE_SECONDS, once per distinct pair sample (an upper bound: the cache reuses the
               rows of every pair an earlier pass computed)
  evaluation = per model: scored options x s/option + open answers x new tokens x s/token + FIXED
Figures are for 2 CPU cores, per precision that runs (README and bench/bench_eval.py); a GPU is 20-50x faster.
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

from dpo.config import TrainConfig, read_run_config
from dpo.tracking import read_metrics

# measured on 2 CPU cores, SmolLM2-135M, LoRA r 8 on q/v, per precision that runs (dpo.precision: "auto" is bf16 where
# the CPU multiplies bf16 natively, fp32 elsewhere). bf16: the AVX512-BF16 machine (README: 64 steps at ~6 s, ~1 min a
# 256-pair reference pass). fp32: an AVX2 machine without native bf16, 2026-12-02 (the default train.py run: 64 steps
# at ~13 s, the 288-pair reference pass in ~8 min; bench/bench_eval.py: see OPTION_SECONDS)
STEP_SECONDS = {("smollm2-135m", "bf16"): 6.0, ("smollm2-135m", "fp32"): 13.0,  # a step of 4 pairs at max_length 384
                ("tiny-random", "bf16"): 0.05, ("tiny-random", "fp32"): 0.05}
REFERENCE_SECONDS = {("smollm2-135m", "bf16"): 60 / 256, ("smollm2-135m", "fp32"): 480 / 288,  # per pair
                     ("tiny-random", "bf16"): 0.002, ("tiny-random", "fp32"): 0.002}
START_SECONDS = {"smollm2-135m": 20.0, "tiny-random": 1.0}  # load the model, read and tokenize the pairs, save
# a step's cost relative to a DPO step with the same batch_size: rm scores chosen and rejected like DPO; ppo and
# grpo measured in the study's first sitting (2026-12-02, 2 cores, SmolLM2-135M, 4 prompts a step): DPO 6.9 s,
# PPO 30.1 s (sampling 4 responses, scoring, value, 4 minibatch passes), GRPO 40.7 s (4 samples a prompt)
ALGO_FACTOR = {"dpo": 1.0, "rm": 1.0, "ppo": 4.4, "grpo": 5.9}
FULL_FINETUNE_FACTOR = 2.0
REFERENCE_STEP_TOKENS = 4 * 384
# evaluation of one model, until a cached evaluation gives its own time. bf16 measured 2026-12-02 on the quiet
# machine, every item, base + the default adapter: 1,080 options in 204-233 s; 40 answers of up to 256 new tokens and
# the choice after each in 104-109 s; the adapter's 2 x 48 held-out pairs 87 s with it, 89 s without it (shared).
# fp32 on the AVX2 machine, bench/bench_eval.py --items 8 (2026-12-02): 0.464 s an option (shared prompt), 5.39 s a
# greedy answer of 256 new tokens (+10% for the choice after it); the fixed part scaled by the step ratio 13/6
OPTION_SECONDS = {("smollm2-135m", "bf16"): 0.20, ("smollm2-135m", "fp32"): 0.46,  # one forced-choice option
                  ("tiny-random", "bf16"): 0.002, ("tiny-random", "fp32"): 0.002}
TOKEN_SECONDS = {("smollm2-135m", "bf16"): 0.011, ("smollm2-135m", "fp32"): 0.023,  # a new token of an open answer
                 ("tiny-random", "bf16"): 0.0005, ("tiny-random", "fp32"): 0.0005}   # (with its follow-up choice)
FIXED_SECONDS = {("smollm2-135m", "bf16"): 120.0, ("smollm2-135m", "fp32"): 260.0,  # load, drift, held-out pairs
                 ("tiny-random", "bf16"): 1.0, ("tiny-random", "fp32"): 1.0}


def figure(table: dict[tuple[str, str], float], model: str, precision: str) -> float | None:
    """The table's figure for `model` at the (resolved) precision; fp16 counts as bf16 (both 2-byte matmuls)."""
    return table.get((model, "fp32" if precision == "fp32" else "bf16"))


def steps(cfg: TrainConfig, pairs: int) -> int:
    """Optimizer steps of a run on `pairs` training pairs (or prompts)."""
    if cfg.max_steps:
        return cfg.max_steps
    return math.ceil(pairs * cfg.epochs / (cfg.batch_size * cfg.grad_accum))


def step_tokens(cfg: TrainConfig) -> int:
    return cfg.batch_size * cfg.grad_accum * cfg.max_length


def measured_step(run_dirs: list[Path], cfg: TrainConfig, algo: str) -> float | None:
    """Median seconds a step of the runs in `run_dirs` with cfg's model and `algo`, scaled to cfg's tokens a step."""
    scaled = []
    for run_dir in run_dirs:
        config = run_dir / "config.json"
        if not config.is_file() or not (run_dir / "metrics.jsonl").is_file():
            continue
        other = read_run(run_dir)
        if other is None or (other.model, other.algo, other.full_finetune) != (cfg.model, algo, cfg.full_finetune):
            continue
        times = [m["step_time"] for m in read_metrics(run_dir) if "step_time" in m]
        if times:
            scaled.append(statistics.median(times) * step_tokens(cfg) / step_tokens(other))
    return statistics.median(scaled) if scaled else None


def read_run(run_dir: Path) -> TrainConfig | None:
    try:
        return read_run_config(run_dir)
    except (TypeError, ValueError):  # a run of another code version
        return None


def step_seconds(cfg: TrainConfig, run_dirs: list[Path], algo: str = "") -> tuple[float, str] | None:
    """(seconds a step of cfg, or of cfg with `algo`; where the figure comes from), or None for a model
    without a figure."""
    algo = algo or cfg.algo
    measured = measured_step(run_dirs, cfg, algo)
    if measured is not None:
        return measured, "measured"
    table = figure(STEP_SECONDS, cfg.model, cfg.precision)
    if table is None:
        return None
    factor = ALGO_FACTOR.get(algo, 1.0) * (FULL_FINETUNE_FACTOR if cfg.full_finetune else 1.0)
    return table * factor * step_tokens(cfg) / REFERENCE_STEP_TOKENS, f"table, {cfg.precision}"


def run_seconds(cfg: TrainConfig, pairs: int, done_steps: int, reference_pass: bool, run_dirs: list[Path],
                algo: str = "") -> float | None:
    """Estimated seconds to finish a run (None: no figure for its model)."""
    per_step = step_seconds(cfg, run_dirs, algo)
    if per_step is None:
        return None
    ref = figure(REFERENCE_SECONDS, cfg.model, cfg.precision) * pairs if reference_pass else 0.0
    return START_SECONDS[cfg.model] + ref + max(0, steps(cfg, pairs) - done_steps) * per_step[0]


def eval_seconds(model: str, precision: str, options: int, open_answers: int, new_tokens: int) -> float | None:
    """Estimated seconds to evaluate one model on `options` scored options and `open_answers` answers."""
    if figure(OPTION_SECONDS, model, precision) is None:
        return None
    return (figure(FIXED_SECONDS, model, precision) + options * figure(OPTION_SECONDS, model, precision)
            + open_answers * new_tokens * figure(TOKEN_SECONDS, model, precision))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes = seconds / 60
    return f"{seconds:.0f} s" if seconds < 60 else f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"
