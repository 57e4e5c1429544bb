"""The DPO training loop: concatenated_forward -> preference_loss -> step. Everything else is passed in.
Its skeleton, train_loop (resume, schedule, eval, metrics, checkpoints, Ctrl-C), also runs the reward model
(fit with its own loss_fn) and PPO and GRPO (their own step) of rlhf/.

One optimizer step = up to `grad_accum` micro-batches of `batch_size` pairs (a step never crosses an
epoch's end). The learning rate warms up linearly over `warmup_ratio` of the steps, then decays on a
cosine toward 0. Checkpoints hold the
trainable weights, optimizer, scheduler, scaler, data position and every RNG state, so a resumed run
continues exactly (bit-identical on the CPU).
"""
from __future__ import annotations

import dataclasses
import math
import random
import shutil
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from . import distributed
from .config import TrainConfig
from .data import PackedPairs, batch_order, collate
from .logprobs import SequenceLogps, batch_pairs, concatenated_forward
from .loss import REFERENCE_FREE, preference_loss
from .models import eval_mode
from .precision import autocast, grad_scaler
from .reference import ReferenceLogps
from .tracking import MetricsLog


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainState:
    step: int = 0  # optimizer steps done
    epoch: int = 0  # epoch of the next micro-batch
    position: int = 0  # micro-batches of that epoch already consumed
    tokens: int = 0  # non-padding tokens seen
    skipped: int = 0  # fp16 steps skipped by the GradScaler (inf/NaN gradients)
    extra: dict = field(default_factory=dict)  # an algorithm's own state (e.g. PPO's adaptive KL coefficient)


MAX_CONSECUTIVE_SKIPS = 25  # fp16: more skipped steps in a row than this means the run diverged


def warmup_cosine(warmup_steps: int, total_steps: int):
    """lr multiplier of step s (0-based): (s+1)/warmup while s < warmup, then 0.5 * (1 + cos(pi * progress)),
    progress = (s - warmup) / (total - warmup), falling from 1 toward 0 over the remaining steps."""
    def factor(s: int) -> float:
        if s < warmup_steps:
            return (s + 1) / warmup_steps
        progress = (s - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def pair_loss(model, batch: dict, ref: tuple[SequenceLogps, SequenceLogps] | None, cfg: TrainConfig):
    """Mean DPO loss of a batch and its metrics (community names: rewards/chosen, logps/chosen, ...)."""
    chosen, rejected = concatenated_forward(model, batch)
    ref_chosen, ref_rejected = ref if ref is not None else (None, None)
    losses, chosen_rewards, rejected_rewards = preference_loss(
        chosen.sum, rejected.sum,
        ref_chosen.sum if ref_chosen is not None else None, ref_rejected.sum if ref_rejected is not None else None,
        beta=cfg.beta, loss_type=cfg.loss, label_smoothing=cfg.label_smoothing, simpo_gamma=cfg.simpo_gamma,
        sft_weight=cfg.sft_weight,
        policy_chosen_logps_mean=chosen.mean, policy_rejected_logps_mean=rejected.mean,
        ref_chosen_logps_mean=ref_chosen.mean if ref_chosen is not None else None,
        ref_rejected_logps_mean=ref_rejected.mean if ref_rejected is not None else None,
        confidence=batch.confidence if isinstance(batch, PackedPairs) else batch.get("confidence"),
    )
    loss = losses.mean()
    metrics = {
        "loss": loss.detach(),
        "rewards/chosen": chosen_rewards.mean(),
        "rewards/rejected": rejected_rewards.mean(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean(),
        "logps/chosen": chosen.sum.detach().mean(),
        "logps/rejected": rejected.sum.detach().mean(),
    }
    return loss, metrics


def steps_per_epoch(n_pairs: int, cfg: TrainConfig) -> int:
    return math.ceil(math.ceil(n_pairs / cfg.batch_size) / cfg.grad_accum)


def total_steps(n_pairs: int, cfg: TrainConfig) -> int:
    return cfg.max_steps or cfg.epochs * steps_per_epoch(n_pairs, cfg)


def next_step_batches(lengths: Sequence[int], cfg: TrainConfig, state: TrainState,
                      per_step: int | None = None) -> tuple[list[list[int]], int, int]:
    """The micro-batches of the next optimizer step: up to per_step (default grad_accum) of them, never crossing
    an epoch's end (so --epochs 1 sees each pair once). Returns (batches, epoch, position after them)."""
    epoch, position = state.epoch, state.position
    order = batch_order(lengths, cfg.batch_size, seed=cfg.seed, epoch=epoch, group_by_length=cfg.group_by_length)
    if position >= len(order):
        epoch, position = epoch + 1, 0
        order = batch_order(lengths, cfg.batch_size, seed=cfg.seed, epoch=epoch, group_by_length=cfg.group_by_length)
    batches = order[position:position + (per_step or cfg.grad_accum)]
    return batches, epoch, position + len(batches)


class DeferredInterrupt:
    """Within `with DeferredInterrupt() as stop:`, a first Ctrl-C only sets `stop.requested`, so the loop can
    finish its step and save a consistent checkpoint; a second Ctrl-C interrupts at once."""
    def __enter__(self):
        self.requested = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing this step, then saving a checkpoint (Ctrl-C again to stop at once)", file=sys.stderr)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


LossFn = Callable[..., tuple[torch.Tensor, dict]]  # (model, batch, reference or None, cfg) -> (mean loss, metrics)
DPO_SHOW = {"loss": "loss", "acc": "rewards/accuracies"}  # progress bar: label -> metric
DPO_SUMMARY = ("loss", "eval/loss", "eval/rewards/accuracies", "eval/rewards/margins")  # printed at the end


def train_step(model, batches: list[list[int]], train_examples: Sequence[dict], ref_train: ReferenceLogps | None,
               cfg: TrainConfig, pad_id: int, device: torch.device, optimizer, scaler, params,
               loss_fn: LossFn | None = None, run: distributed.Runner = distributed.single) -> dict:
    """One optimizer step over micro-batches; each micro-batch's mean loss is weighted by its share of the
    step's pairs, so the step's gradient is that of the mean loss over all its pairs. loss_fn: pair_loss.
    Metrics stay on the device until optimizer_step brings them over in one transfer, where a non-finite
    loss stops the step before the update.

    Under torchrun (`run` from dpo.distributed.parallelize), `batches` is the global step and each rank
    takes its shard of every micro-batch, weighted by N x its share of the step's pairs (the ranks' gradients
    are averaged); the metrics are summed over the ranks, so every rank sees the global step's."""
    loss_fn = loss_fn or pair_loss
    optimizer.zero_grad(set_to_none=True)
    n_pairs = sum(len(idx) for idx in batches)
    world = distributed.world_size()
    sums: dict[str, torch.Tensor] = {}
    step_loss = torch.zeros((), device=device)  # the loss backpropagated, which the check must see
    tokens = 0
    for k, global_idx in enumerate(batches):
        idx, real = distributed.shard(global_idx)
        batch = make_batch(model, [train_examples[i] for i in idx], pad_id, device, loss_fn)
        reference = ref_train.select(idx) if ref_train else None
        with distributed.gradient_sync(run, sync=k == len(batches) - 1):
            with autocast(device, cfg.precision):
                loss, m = run(lambda: loss_fn(model, batch, reference, cfg))
            weight = real / n_pairs
            scaler.scale(loss * (weight * world)).backward()
        step_loss = step_loss + loss.detach().float() * weight
        for key, v in m.items():
            sums[key] = sums.get(key, 0.0) + v.float() * weight
        tokens += sum(len(train_examples[i]["chosen_input_ids"]) + len(train_examples[i]["rejected_input_ids"])
                      for i in global_idx)
    return {**optimizer_step(optimizer, scaler, params, cfg.max_grad_norm,
                             distributed.global_sum({**sums, "loss": step_loss})), "tokens": tokens}


def make_batch(model, examples: Sequence[dict], pad_id: int, device: torch.device,
               loss_fn: LossFn) -> PackedPairs | dict[str, torch.Tensor]:
    """pair_loss takes the batch dpo.logprobs.batch_pairs picks for the model (packed where it can be);
    any other loss_fn a dpo.data.collate batch. On `device`."""
    if loss_fn is pair_loss:
        return batch_pairs(model, examples, pad_id)
    return {k: v.to(device) for k, v in collate(examples, pad_id).items()}


def check_finite(loss: torch.Tensor) -> None:
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"loss is {loss.item()}")


def optimizer_step(optimizer, scaler, params, max_grad_norm: float, metrics: dict[str, torch.Tensor] | None = None) -> dict:
    """Unscale the gradients, clip their norm, step (with fp16 the scaler skips a step with inf/NaN gradients)
    and update the scale. Returns {grad_norm, grad_scale (the scale the step ran with), skipped (1.0 or 0.0)}
    and `metrics` (0-dim tensors) as floats: they and the norm reach the host in one transfer, before the
    update, and a non-finite metrics["loss"] raises TrainingDiverged there."""
    scaler.unscale_(optimizer)
    metrics = metrics or {}
    norm = distributed.local_value(torch.nn.utils.clip_grad_norm_(params, max_grad_norm))
    *values, grad_norm = torch.stack([*(v.float() for v in metrics.values()), norm.float()]).tolist()
    out = dict(zip(metrics, values))
    if not math.isfinite(out.get("loss", 0.0)):
        raise TrainingDiverged(f"loss is {out['loss']}")
    if not math.isfinite(grad_norm) and not scaler.is_enabled():  # with fp16 the scaler skips such a step
        raise TrainingDiverged(f"gradient norm is {grad_norm}")
    scale = scaler.get_scale() if scaler.is_enabled() else 1.0
    scaler.step(optimizer)
    scaler.update()
    skipped = scaler.is_enabled() and scaler.get_scale() < scale
    return {**out, "grad_norm": grad_norm, "grad_scale": scale, "skipped": float(skipped)}


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device, steps: int):
    """(trainable parameters, AdamW (fused on CPU and CUDA), warmup + cosine LambdaLR over `steps` steps)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(math.ceil(cfg.warmup_ratio * steps), steps))
    return params, optimizer, scheduler


def fit(model: torch.nn.Module, cfg: TrainConfig, *, train_examples: Sequence[dict], eval_examples: Sequence[dict],
        pad_id: int, run_dir: Path, device: torch.device, ref_train: ReferenceLogps | None = None,
        ref_eval: ReferenceLogps | None = None, log: MetricsLog | None = None, loss_fn: LossFn | None = None,
        show: dict[str, str] = DPO_SHOW, summary: Sequence[str] = DPO_SUMMARY) -> dict:
    """Train `model` (its trainable parameters) on tokenized pairs; returns the last logged metrics.

    loss_fn (default pair_loss, DPO) maps (model, batch, reference log-probs or None, cfg) to the batch's mean
    loss and its metrics; the reward model passes its own, with its progress-bar and summary metrics.
    Resumes, stops and diverges as train_loop says.
    """
    if loss_fn is None and cfg.loss not in REFERENCE_FREE and (ref_train is None or (eval_examples and ref_eval is None)):
        raise ValueError(f"loss {cfg.loss!r} needs reference log-probs")
    loss_fn = loss_fn or pair_loss
    steps = total_steps(len(train_examples), cfg)
    run = distributed.parallelize(model, cfg.dist, cfg.precision, device)  # before the optimizer: FSDP shards
    params, optimizer, scheduler = make_optimizer(model, cfg, device, steps)
    scaler = grad_scaler(device, cfg.precision)
    lengths = [len(ex["chosen_input_ids"]) + len(ex["rejected_input_ids"]) for ex in train_examples]

    def step(state: TrainState) -> tuple[dict, TrainState]:
        batches, epoch, position = next_step_batches(lengths, cfg, state)
        out = train_step(model, batches, train_examples, ref_train, cfg, pad_id, device, optimizer, scaler, params,
                         loss_fn, run)
        return out, dataclasses.replace(state, epoch=epoch, position=position)

    return train_loop(model, cfg, steps=steps, run_dir=run_dir, optimizer=optimizer, scheduler=scheduler,
                      scaler=scaler, step=step, log=log or MetricsLog(run_dir), show=show, summary=summary,
                      evaluate=lambda: evaluate_pairs(model, eval_examples, ref_eval, cfg, pad_id, device, loss_fn, run))


def train_loop(model: torch.nn.Module, cfg: TrainConfig, *, steps: int, run_dir: Path, optimizer, scheduler, scaler,
               step: Callable[[TrainState], tuple[dict, TrainState]], evaluate: Callable[[], dict], log: MetricsLog,
               show: dict[str, str], summary: Sequence[str]) -> dict:
    """The loop every algorithm shares; returns the last logged metrics.

    Resumes from the newest checkpoint in run_dir/checkpoints if there is one. Each iteration calls
    step(state), which runs the optimizer step(s) and returns its metrics (with "tokens" and "skipped") and the
    state with its data position (epoch, position, extra) moved on; then the lr schedule steps, evaluate() runs
    every cfg.eval_every steps and at the end, metrics go to metrics.jsonl (and W&B), and a checkpoint is saved
    every cfg.save_every steps and at the end. Ctrl-C finishes the current step, saves it and raises
    KeyboardInterrupt; a non-finite loss or gradient (or, in fp16, more than MAX_CONSECUTIVE_SKIPS skipped
    steps in a row) raises TrainingDiverged and keeps the last good checkpoint.
    """
    state = TrainState()
    ckpt_dir = run_dir / "checkpoints"
    last = latest_checkpoint(ckpt_dir)
    if last is not None:
        state = load_checkpoint(last, model, optimizer, scheduler, scaler)
    log.truncate_after(state.step)

    model.train()
    metrics: dict = {}
    first_step, started, skips_in_a_row = state.step, time.perf_counter(), 0
    bar = tqdm(total=steps, initial=state.step, desc="train", unit="step", dynamic_ncols=True,
               disable=not distributed.is_main())
    device = next(model.parameters()).device
    try:
        with DeferredInterrupt() as interrupt:
            while state.step < steps:
                t0 = time.perf_counter()
                lr = scheduler.get_last_lr()[0]
                try:
                    out, moved = step(state)
                    skips_in_a_row = skips_in_a_row + 1 if out["skipped"] else 0
                    if skips_in_a_row > MAX_CONSECUTIVE_SKIPS:
                        raise TrainingDiverged(f"{skips_in_a_row} fp16 steps in a row had inf/NaN gradients")
                except TrainingDiverged as e:
                    raise TrainingDiverged(f"step {state.step + 1}: {e}; stopped. "
                                           f"Last good checkpoint: {latest_checkpoint(ckpt_dir) or 'none'}") from None
                scheduler.step()
                tokens = out.pop("tokens")
                state = dataclasses.replace(moved, step=state.step + 1, tokens=state.tokens + tokens,
                                            skipped=state.skipped + int(out["skipped"]))
                elapsed = time.perf_counter() - t0
                metrics = {**out, "skipped": state.skipped, "lr": lr, "tokens_per_second": tokens / elapsed,
                           "step_time": elapsed, "epoch": state.epoch}
                if state.step % cfg.eval_every == 0 or state.step == steps:
                    metrics.update(evaluate())
                log.log(metrics, state.step)
                bar.update()
                bar.set_postfix({label: f"{out[key]:.4f}" for label, key in show.items()} | {"s_per_step": f"{elapsed:.2f}"})
                interrupted = distributed.any_rank(interrupt.requested, device)  # all ranks stop together
                if state.step % cfg.save_every == 0 or state.step == steps or interrupted:
                    save_checkpoint(ckpt_dir, model, optimizer, scheduler, scaler, state, cfg)
                if interrupted:
                    bar.write(f"interrupted: saved step {state.step}; continue with --resume {run_dir}")
                    raise KeyboardInterrupt
    finally:
        bar.close()
    model.eval()
    done, wall = state.step - first_step, time.perf_counter() - started
    if done and distributed.is_main():
        said = ", ".join(f"{k} {metrics[k]:.4f}" for k in summary if k in metrics)
        print(f"trained {done} steps in {wall:.1f} s ({wall / done:.2f} s/step); {said}", file=sys.stderr)
    return metrics


@torch.no_grad()
def evaluate_pairs(model, examples: Sequence[dict], ref: ReferenceLogps | None, cfg: TrainConfig,
                   pad_id: int, device: torch.device, loss_fn: LossFn | None = None,
                   run: distributed.Runner = distributed.single) -> dict:
    """Loss and metrics of loss_fn (default pair_loss) on held-out pairs, averaged over pairs, under `eval/`.
    Under torchrun each rank scores its shard of every batch and the sums are reduced over the ranks."""
    loss_fn = loss_fn or pair_loss
    if not examples:
        return {}
    totals: dict[str, float] = {}
    with eval_mode(model):
        for start in range(0, len(examples), cfg.batch_size):
            idx, real = distributed.shard(list(range(start, min(start + cfg.batch_size, len(examples)))))
            batch = make_batch(model, [examples[i] for i in idx], pad_id, device, loss_fn)
            reference = ref.select(idx) if ref else None
            with autocast(device, cfg.precision):
                _, m = run(lambda: loss_fn(model, batch, reference, cfg))
            for k, v in m.items():
                totals[k] = totals.get(k, 0.0) + float(v) * real
    if distributed.active():
        summed = distributed.global_sum({k: torch.tensor(v, dtype=torch.float64, device=device) for k, v in totals.items()})
        totals = {k: float(v) for k, v in summed.items()}
    return {f"eval/{k}": v / len(examples) for k, v in totals.items()}


# ----------------------------------------------------------------------------- checkpoints

def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(s: dict) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if s["cuda"] and torch.cuda.is_available():  # a CUDA checkpoint resumed on a CPU-only machine
        torch.cuda.set_rng_state_all(s["cuda"])


def save_checkpoint(ckpt_dir: Path, model, optimizer, scheduler, scaler, state: TrainState, cfg: TrainConfig) -> Path:
    """Write checkpoints/step-NNNNNN atomically (temporary folder, then rename); keep the newest few.
    Under torchrun rank 0 writes it (DDP: every rank holds the same weights), except an FSDP run's weights and
    optimizer state, which every rank writes as its shard into sharded/ (torch.distributed.checkpoint)."""
    final = ckpt_dir / f"step-{state.step:06d}"
    sharded = distributed.is_sharded(model)
    with distributed.shared_folder(final) as tmp:
        if sharded:
            distributed.save_sharded(tmp / "sharded", model, optimizer)
        if distributed.is_main():
            if not sharded:
                save_file(trainable_state(model), tmp / "trainable.safetensors")
            torch.save({"optimizer": None if sharded else optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(), "state": asdict(state), "rng": rng_state(), "config": asdict(cfg)},
                       tmp / "training_state.pt")
    if distributed.is_main():
        for old in sorted(ckpt_dir.glob("step-*"))[: -cfg.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
    distributed.barrier()
    return final


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    done = sorted(p for p in ckpt_dir.glob("step-*") if (p / "training_state.pt").is_file())
    return done[-1] if done else None


def load_checkpoint(path: Path, model, optimizer, scheduler, scaler) -> TrainState:
    blob = torch.load(path / "training_state.pt", weights_only=False, map_location="cpu")
    if (path / "sharded").is_dir():
        if not distributed.is_sharded(model):
            raise ValueError(f"checkpoint {path} is sharded (an FSDP run): resume it under torchrun with --dist fsdp")
        distributed.load_sharded(path / "sharded", model, optimizer)
    else:
        load_trainable(path, model)
        optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    scaler.load_state_dict(blob["scaler"])
    set_rng_state(blob["rng"])
    return TrainState(**blob["state"])


def load_trainable(path: Path, model) -> None:
    """Copy a checkpoint's trainable.safetensors into the model's trainable parameters."""
    weights = load_file(path / "trainable.safetensors")
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
    if missing or set(weights) - set(params):
        raise ValueError(f"checkpoint {path} does not match the model (missing {missing[:3]}, "
                         f"unexpected {sorted(set(weights) - set(params))[:3]}): was it made with other LoRA settings?")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
