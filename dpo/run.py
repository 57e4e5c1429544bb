"""One training run, from settings to a run folder:

  pairs (strategy or --data) -> tokenize -> reference log-probs (cached) -> LoRA -> fit -> adapter/

Run folder: config.json (every setting, versions, git commit, data hashes), metrics.jsonl, curves.png,
checkpoints/step-*/, adapter/ (PEFT format) or model/ (full fine-tune).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import json
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .config import TrainConfig
from .data import IGNORE_INDEX, PreferencePair, Truncation, read_pairs, tokenize_pairs
from .files import file_sha256, write_text
from .lora import LoRAConfig, inject_lora, save_adapter, target_modules
from .loss import REFERENCE_FREE, SMOOTHED
from .models import cache_root, load_model, model_identity
from .precision import configure_device, resolve_precision
from .reference import reference_logps
from .tracking import MetricsLog, NullLog, plot_curves
from .trainer import fit

@dataclass(frozen=True)
class DataPlan:
    """The pair files of a run: train files (sampled at `weights` when given, else pooled) and eval files.
    Which files a strategy means is decided above dpo/ (strategies.py)."""
    train: list[Path]
    eval: list[Path]
    weights: list[float] | None = None


def load_pairs(files: list[Path], cfg: TrainConfig, limit: int, *,
               weights: list[float] | None = None) -> tuple[list[PreferencePair], list[int], int]:
    """Read pair files; keep a seeded sample of `limit` pairs (0 = all). With `weights` (mixed strategy),
    file i gives the share weights[i] of the sample, as many pairs as the files allow at those shares.
    Returns (pairs, pairs taken from each file, invalid lines skipped)."""
    rng = random.Random(cfg.seed)
    per_file, skipped = [], 0
    for f in files:
        pairs, errors = read_pairs(f, skip_invalid=cfg.skip_invalid)
        for e in errors[:5]:
            print(f"warning: skipped {e}", file=sys.stderr)
        skipped += len(errors)
        per_file.append(pairs)
    if weights is None:
        pool = [(i, p) for i, pairs in enumerate(per_file) for p in pairs]
        taken = rng.sample(pool, limit) if 0 < limit < len(pool) else pool
        return [p for _, p in taken], [sum(i == k for i, _ in taken) for k in range(len(files))], skipped
    most = min(len(pairs) / w for pairs, w in zip(per_file, weights) if w > 0)
    total = min(limit, most) if limit else most
    if limit and total < limit:
        print(f"warning: only {int(total)} pairs can be drawn at shares {weights} (asked for {limit})", file=sys.stderr)
    counts = [min(len(pairs), round(total * w)) for pairs, w in zip(per_file, weights)]
    out = [p for pairs, k in zip(per_file, counts) for p in rng.sample(pairs, k)]
    rng.shuffle(out)
    return out, counts, skipped


def run_training(cfg: TrainConfig, plan: DataPlan | None = None) -> Path:
    """Train per `cfg` on the pair files of `plan` (default: cfg.data and cfg.eval_data); returns the run folder."""
    if cfg.algo != "dpo":
        raise ValueError(f"run_training trains DPO; algo {cfg.algo} runs with rlhf.run.run_rlhf")
    cfg, run_dir, device = start_run(cfg)
    train_pairs, eval_pairs, record = read_plan(cfg, plan)
    if cfg.loss not in SMOOTHED and any((p.confidence or 1.0) < 1 for p in train_pairs + eval_pairs):
        raise ValueError(f"pairs with confidence < 1 need loss {', '.join(SMOOTHED)}, not {cfg.loss!r}")
    model, tokenizer = load_base(cfg, device)
    trunc = Truncation(cfg.max_length, cfg.max_prompt_length, cfg.max_response_length)
    train, evals = tokenize_pairs(tokenizer, train_pairs, trunc), tokenize_pairs(tokenizer, eval_pairs, trunc)
    print(f"pairs: {len(train.examples)} train ({train.truncated} truncated, {train.dropped} dropped, "
          f"{response_tokens(train.examples)} response tokens), "
          f"{len(evals.examples)} eval ({evals.truncated} truncated, {evals.dropped} dropped), "
          f"{record['invalid_skipped']} invalid lines skipped", file=sys.stderr)
    if not train.examples:
        raise ValueError("no training pairs left after truncation")

    ref_train = ref_eval = None
    if cfg.loss not in REFERENCE_FREE:
        ref_dir = cache_root(cfg.cache_dir or None) / "reference"
        identity = model_identity(model)  # hashing 135M weights takes ~1 s: once for both calls

        def ref(examples):
            return reference_logps(model, examples, pad_id=tokenizer.pad_token_id, cache_dir=ref_dir,
                                   precision=cfg.precision, batch_size=cfg.ref_batch_size, device=device,
                                   identity=identity)
        ref_train = ref(train.examples)
        ref_eval = ref(evals.examples) if evals.examples else None

    make_trainable(model, cfg)
    data = {**record, "train_pairs": len(train.examples), "eval_pairs": len(evals.examples),
            "truncated": train.truncated, "dropped": train.dropped,
            "train_response_tokens": response_tokens(train.examples)}
    write_run_config(run_dir, cfg, model, data)
    log = open_log(run_dir, cfg)
    try:
        fit(model, cfg, train_examples=train.examples, eval_examples=evals.examples, pad_id=tokenizer.pad_token_id,
            run_dir=run_dir, device=device, ref_train=ref_train, ref_eval=ref_eval, log=log)
    finally:
        log.finish()
    save_policy(model, tokenizer, cfg, run_dir)
    return run_dir


def start_run(cfg: TrainConfig) -> tuple[TrainConfig, Path, torch.device]:
    """(cfg with its run folder in `out` and its precision resolved for the device, the run folder, the device);
    refuses to start over an existing run unless resuming; seeds every RNG."""
    device = distributed.setup(cfg.dist, cfg.device) or resolve_device(cfg.device)
    name = cfg.strategy if cfg.algo == "dpo" else f"{cfg.algo}-{cfg.strategy}"
    run_dir = Path(distributed.broadcast(cfg.resume or cfg.out or f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}"))
    if not cfg.resume and (run_dir / "checkpoints").exists():
        raise FileExistsError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
    cfg = dataclasses.replace(cfg, out=str(run_dir), precision=resolve_precision(cfg.precision, device))
    seed_everything(cfg.seed)
    configure_device(device)
    return cfg, run_dir, device


def read_plan(cfg: TrainConfig, plan: DataPlan | None) -> tuple[list[PreferencePair], list[PreferencePair], dict]:
    """(train pairs, eval pairs, their record for config.json: files with hashes, pairs per file, invalid lines)."""
    plan = plan or DataPlan([Path(p) for p in cfg.data], [Path(p) for p in cfg.eval_data])
    if not plan.train:
        raise ValueError("no training pair files: pass --data FILE (train.py resolves --strategy into files)")
    train_files, eval_files, weights = plan.train, plan.eval, plan.weights
    train_pairs, train_counts, skipped = load_pairs(train_files, cfg, cfg.max_train_pairs, weights=weights)
    eval_weights = weights if weights and len(eval_files) == len(weights) else None
    eval_pairs, eval_counts, eval_skipped = (load_pairs(eval_files, cfg, cfg.max_eval_pairs, weights=eval_weights)
                                             if eval_files else ([], [], 0))
    if not eval_pairs:
        print("warning: no held-out pairs (pass --eval-data FILE): eval/ metrics will be missing", file=sys.stderr)
    record = {"train_files": [file_record(f) for f in train_files], "eval_files": [file_record(f) for f in eval_files],
              "train_pairs_per_file": train_counts, "eval_pairs_per_file": eval_counts,
              "invalid_skipped": skipped + eval_skipped}
    return train_pairs, eval_pairs, record


def load_base(cfg: TrainConfig, device: torch.device):
    """(model, tokenizer) of cfg.model on `device`; a LoRA target that matches nothing fails now."""
    model, tokenizer = load_model(cfg.model, cache_dir=cfg.cache_dir or None)
    model.to(device)
    if not cfg.full_finetune:
        target_modules(model, lora_config(cfg))  # a bad target fails now, not after the reference pass
    return model, tokenizer


def make_trainable(model, cfg: TrainConfig) -> None:
    """Dropout off; LoRA adapters (A drawn from cfg.seed) or every weight trainable; activation checkpointing."""
    disable_dropout(model)
    if cfg.full_finetune:
        model.requires_grad_(True)
    else:
        torch.manual_seed(cfg.seed)  # LoRA A init
        inject_lora(model, lora_config(cfg))
    if cfg.gradient_checkpointing:
        enable_activation_checkpointing(model)


def open_log(run_dir: Path, cfg: TrainConfig) -> MetricsLog:
    """metrics.jsonl and W&B on rank 0; the other ranks' metrics (the same, reduced) go nowhere."""
    if not distributed.is_main():
        return NullLog(run_dir)
    return MetricsLog(run_dir, wandb_project=cfg.wandb_project if cfg.wandb else "", wandb_run_name=cfg.wandb_run_name,
                      config=dataclasses.asdict(cfg), resume=bool(cfg.resume))


def save_policy(model, tokenizer, cfg: TrainConfig, run_dir: Path) -> None:
    """adapter/ (PEFT format) or model/ (full fine-tune), and curves.png, written by rank 0; an FSDP model's
    full state is gathered to rank 0's CPU first (every rank takes part)."""
    full = distributed.full_state(model, trainable_only=not cfg.full_finetune) if distributed.is_sharded(model) else None
    if distributed.is_main():
        if cfg.full_finetune:
            model.save_pretrained(run_dir / "model", state_dict=full)
            tokenizer.save_pretrained(run_dir / "model")
        else:
            save_adapter(model, run_dir / "adapter", base_model_name=cfg.model, weights=full)
        plot_curves([run_dir], run_dir / "curves.png")
    distributed.barrier()


def response_tokens(examples: list[dict]) -> int:
    """Response tokens trained on (chosen and rejected, after truncation): with the pair count, a run's data budget."""
    return sum(sum(t != IGNORE_INDEX for t in ex[f"{side}_labels"]) for ex in examples for side in ("chosen", "rejected"))


def lora_config(cfg: TrainConfig) -> LoRAConfig:
    return LoRAConfig(r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout, targets=tuple(cfg.lora_targets),
                      rslora=cfg.rslora)


def enable_activation_checkpointing(model) -> None:
    """Non-reentrant activation checkpointing of every decoder layer. Inputs are made to require grad too:
    with frozen embeddings, reentrant checkpointing would otherwise give the LoRA adapters no gradient."""
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    model.config.use_cache = False


def disable_dropout(model: torch.nn.Module) -> None:
    """DPO compares log-probs of two forwards: dropout noise would bias the comparison. Attention modules
    copy their dropout rate into a plain float when built, so those attributes are zeroed too."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        for attr in ("attention_dropout", "hidden_dropout", "dropout"):
            if isinstance(getattr(module, attr, None), float):
                setattr(module, attr, 0.0)
    for attr in ("attention_dropout", "hidden_dropout", "dropout"):
        if isinstance(getattr(model.config, attr, None), float):
            setattr(model.config, attr, 0.0)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def file_record(path: Path) -> dict:
    return {"path": str(path), "sha256": file_sha256(path)}


def write_run_config(run_dir: Path, cfg: TrainConfig, model, data: dict) -> None:
    """Write config.json; on --resume, check the data is what the run started with and append to `resumes`
    instead of overwriting the original record."""
    import transformers
    if not distributed.is_main():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    session = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "git": git_commit(), "command": sys.argv}
    if cfg.resume and path.exists():
        record = json.loads(path.read_text())
        if record["data"] != data:
            differ = [k for k in data if record["data"].get(k) != data[k]]
            raise ValueError(f"--resume {run_dir}: the training data changed since the run started ({', '.join(differ)}); "
                             "a resumed run must see the same pairs")
        record.setdefault("resumes", []).append({**session, "device": cfg.device, "cache_dir": cfg.cache_dir})
    else:
        record = {"config": dataclasses.asdict(cfg), "data": data,
                  "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
                  "versions": {"python": platform.python_version(), "torch": torch.__version__,
                               "transformers": transformers.__version__}, **session}
    write_text(path, json.dumps(record, indent=2))


def git_commit() -> dict:
    here = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
