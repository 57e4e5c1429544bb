"""One RLHF run, from settings to a run folder, beside dpo/run.py and sharing its pieces (run folder, pair
files, model, LoRA, config.json, metrics, checkpoints and the training loop of dpo/trainer.py):

  --algo rm    pairs -> tokenize -> reward model (Bradley-Terry, dpo.trainer.fit) -> normalise on the reference
               policy's samples -> reward_model/ (loadable on its own: rlhf.reward_model.load_reward_model)
  --algo ppo   prompts of the pairs -> PPO steps (rlhf.ppo) -> adapter/ (PEFT format, as a DPO run's)
  --algo grpo  prompts of the pairs -> GRPO steps (rlhf.grpo) -> adapter/

For ppo and grpo a step is one rollout on batch_size prompts (the data position moves as DPO's: seeded
epochs of shuffled prompts) and its updates; every eval_every steps, one response to each held-out prompt
(the same seed each time) gives eval/objective/scores and eval/objective/kl.

Under torchrun (--dist ddp; dpo/distributed.py) all three run data parallel with the single process's
updates: rm as DPO does (its shard of each micro-batch of pairs), ppo and grpo with rollouts per rank (each
its shard of the step's prompts, GRPO's groups whole), PPO's advantages whitened over the whole batch and
the losses normalised by the counts over all ranks (rlhf.rollout.update_minibatches).
"""
from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import replace
from pathlib import Path

import torch

from dpo import distributed
from dpo.config import TrainConfig
from dpo.data import Truncation, tokenize_pairs
from dpo.files import file_sha256
from dpo.lora import adapters_disabled
from dpo.models import load_model, model_identity
from dpo.precision import grad_scaler
from dpo.run import (DataPlan, load_base, lora_config, make_trainable, open_log, read_plan, save_policy, start_run,
                     write_run_config)
from dpo.trainer import TrainState, fit, make_optimizer, next_step_batches, train_loop
from dpo.tracking import plot_curves

from .grpo import grpo_step
from .ppo import PolicyWithValue, ppo_step, rollout_metrics, rollout_seed, score_rollout
from .reward_model import (SHOW, SUMMARY, WEIGHTS_FILE, RewardModel, base_record, load_reward_model, model_scorer,
                           raw_rewards, read_reward_config, reward_folder, reward_pair_loss, save_reward_model)
from .rewards import Scorer, function_scorer, load_reward_fn
from .rollout import Prompt, prompts_from_pairs, sample_rollout, shard_prompts

RL_SHOW = {"score": "objective/scores", "kl": "objective/kl"}
RL_SUMMARY = ("objective/scores", "objective/kl", "eval/objective/scores", "eval/objective/kl")


def run_rlhf(cfg: TrainConfig, plan: DataPlan | None = None) -> Path:
    """Train a reward model (algo rm) or a policy (ppo, grpo) per `cfg` on the pair files of `plan`."""
    if cfg.algo == "rm":
        return train_reward_model(cfg, plan)
    if cfg.algo in ("ppo", "grpo"):
        return train_policy(cfg, plan)
    raise ValueError(f"rlhf runs algo rm, ppo or grpo, not {cfg.algo!r}")


def train_reward_model(cfg: TrainConfig, plan: DataPlan | None) -> Path:
    cfg, run_dir, device = start_run(cfg)
    train_pairs, eval_pairs, record = read_plan(cfg, plan)
    model, tokenizer = load_base(cfg, device)
    base = base_record(cfg.model, model_identity(model), tokenizer)
    trunc = Truncation(cfg.max_length, cfg.max_prompt_length, cfg.max_response_length)
    train, evals = tokenize_pairs(tokenizer, train_pairs, trunc), tokenize_pairs(tokenizer, eval_pairs, trunc)
    if not train.examples:
        raise ValueError("no training pairs left after truncation")
    make_trainable(model, cfg)
    reward_model = RewardModel(model).to(device)  # head drawn after the LoRA matrices, from the same seed
    data = {**record, "train_pairs": len(train.examples), "eval_pairs": len(evals.examples),
            "truncated": train.truncated, "dropped": train.dropped}
    write_run_config(run_dir, cfg, reward_model, data)
    log = open_log(run_dir, cfg)
    try:
        fit(reward_model, cfg, train_examples=train.examples, eval_examples=evals.examples,
            pad_id=tokenizer.pad_token_id, run_dir=run_dir, device=device, log=log, loss_fn=reward_pair_loss,
            show=SHOW, summary=SUMMARY)
    finally:
        log.finish()
    prompts = prompts_from_pairs(tokenizer, train_pairs, cfg.max_prompt_length)
    normalisation = normalise(reward_model, tokenizer, prompts, cfg, device)
    print(f"reward normalisation on {normalisation['samples']} reference samples: raw mean "
          f"{normalisation['mean']:.4f}, std {normalisation['std']:.4f}", file=sys.stderr)
    if distributed.is_main():  # under torchrun (--dist ddp) every rank holds the same model
        save_reward_model(reward_model, run_dir / "reward_model", base=base,
                          lora=None if cfg.full_finetune else lora_config(cfg), normalisation=normalisation)
        plot_curves([run_dir], run_dir / "curves.png")
    distributed.barrier()
    return run_dir


def normalise(reward_model: RewardModel, tokenizer, prompts: list[Prompt], cfg: TrainConfig,
              device: torch.device) -> dict:
    """Set the reward model's mean and std to those of its raw rewards on cfg.rm_norm_samples responses of
    the reference policy (the base: the model with its adapters disabled, or a fresh copy after a full
    fine-tune) to the prompts, cycled, sampled as rollouts are. Returns the record for reward_config.json."""
    rows = [prompts[i % len(prompts)] for i in range(cfg.rm_norm_samples)]
    if cfg.full_finetune:
        reference, _ = load_model(cfg.model, cache_dir=cfg.cache_dir or None)
        context = contextlib.nullcontext()
    else:
        reference, context = reward_model.lm, adapters_disabled(reward_model.lm)
    with context:
        rollout = sample_rollout(reference.to(device), tokenizer, rows, max_new_tokens=cfg.response_length,
                                 temperature=cfg.temperature, seed=rollout_seed(cfg, None), precision=cfg.precision,
                                 device=device)
    raw = raw_rewards(reward_model, rollout, batch_size=cfg.ref_batch_size, device=device, precision=cfg.precision)
    reward_model.mean, reward_model.std = float(raw.mean()), float(raw.std().clamp(min=1e-6))
    return {"mean": reward_model.mean, "std": reward_model.std, "samples": len(rows), "temperature": cfg.temperature,
            "response_length": cfg.response_length}


def load_scorer(cfg: TrainConfig, base: dict, device: torch.device) -> tuple[Scorer, dict]:
    """The run's Scorer and its record for config.json; a reward model must fit the policy's base."""
    if cfg.reward_fn:
        return function_scorer(load_reward_fn(cfg.reward_fn), cfg.reward_fn), {"reward_fn": cfg.reward_fn}
    folder = reward_folder(cfg.reward_model)
    reward_model, _, _ = load_reward_model(folder, cache_dir=cfg.cache_dir or None, expect=base)
    scorer = model_scorer(reward_model.to(device), batch_size=cfg.ref_batch_size, device=device,
                          precision=cfg.precision)
    return scorer, {"reward_model": str(folder), "reward_model_sha256": file_sha256(folder / WEIGHTS_FILE)}


def train_policy(cfg: TrainConfig, plan: DataPlan | None) -> Path:
    cfg, run_dir, device = start_run(cfg)
    if cfg.reward_fn:  # a bad reward fails before anything is loaded
        load_reward_fn(cfg.reward_fn)
    else:
        read_reward_config(cfg.reward_model)
    train_pairs, eval_pairs, record = read_plan(cfg, plan)
    model, tokenizer = load_base(cfg, device)
    scorer, reward_record = load_scorer(cfg, base_record(cfg.model, model_identity(model), tokenizer), device)
    train_prompts = prompts_from_pairs(tokenizer, train_pairs, cfg.max_prompt_length)
    eval_prompts = prompts_from_pairs(tokenizer, eval_pairs, cfg.max_prompt_length)
    print(f"prompts: {len(train_prompts)} train, {len(eval_prompts)} eval", file=sys.stderr)
    make_trainable(model, cfg)
    policy = PolicyWithValue(model).to(device) if cfg.algo == "ppo" else model
    data = {**record, "train_prompts": len(train_prompts), "eval_prompts": len(eval_prompts), **reward_record}
    write_run_config(run_dir, cfg, policy, data)
    log = open_log(run_dir, cfg)
    try:
        fit_policy(policy, tokenizer, cfg, train_prompts=train_prompts, eval_prompts=eval_prompts, scorer=scorer,
                   run_dir=run_dir, device=device, log=log)
    finally:
        log.finish()
    save_policy(model, tokenizer, cfg, run_dir)
    return run_dir


def fit_policy(policy: torch.nn.Module, tokenizer, cfg: TrainConfig, *, train_prompts: list[Prompt],
               eval_prompts: list[Prompt], scorer: Scorer, run_dir: Path, device: torch.device, log) -> dict:
    """PPO (policy: a PolicyWithValue) or GRPO (policy: the LoRA model) steps in dpo.trainer.train_loop, with
    its checkpoints and exact resume (PPO's adaptive KL coefficient rides in the checkpoint's state). Under
    torchrun (--dist ddp) the policy is wrapped in DDP, each rank rolls out its shard of every step's (and
    the held-out) prompts, and the metrics are reduced over the ranks."""
    steps = cfg.max_steps or cfg.epochs * math.ceil(len(train_prompts) / cfg.batch_size)
    run = distributed.parallelize(policy, cfg.dist, cfg.precision, device)  # DDP under torchrun, else the identity
    params, optimizer, scheduler = make_optimizer(policy, cfg, device, steps)
    scaler = grad_scaler(device, cfg.precision)
    lengths = [len(p.ids) for p in train_prompts]
    lm = policy.lm if isinstance(policy, PolicyWithValue) else policy

    def step(state: TrainState) -> tuple[dict, TrainState]:
        (batch,), epoch, position = next_step_batches(lengths, cfg, state, per_step=1)
        prompts = [train_prompts[i] for i in batch]
        common = dict(step=state.step, scorer=scorer, cfg=cfg, device=device, optimizer=optimizer, scaler=scaler,
                      params=params, run=run)
        if cfg.algo == "grpo":
            return grpo_step(policy, tokenizer, prompts, **common), replace(state, epoch=epoch, position=position)
        out, kl_coef = ppo_step(policy, tokenizer, prompts, kl_coef=state.extra.get("kl_coef", cfg.kl_coef), **common)
        return out, replace(state, epoch=epoch, position=position, extra={"kl_coef": kl_coef})

    def evaluate() -> dict:
        if not eval_prompts:
            return {}
        mine, rows, held = shard_prompts(eval_prompts)
        rollout = sample_rollout(lm, tokenizer, mine, max_new_tokens=cfg.response_length,
                                 temperature=cfg.temperature, seed=rollout_seed(cfg, None), precision=cfg.precision,
                                 device=device, rows=rows)
        old, ref_logps, scores = score_rollout(lm, rollout, scorer, cfg, device=device)
        metrics = rollout_metrics(rollout, old, ref_logps, scores, cfg.kl_coef, bool(held))
        return {f"eval/{k}": float(v) for k, v in metrics.items()}

    return train_loop(policy, cfg, steps=steps, run_dir=run_dir, optimizer=optimizer, scheduler=scheduler,
                      scaler=scaler, step=step, evaluate=evaluate, log=log, show=RL_SHOW, summary=RL_SUMMARY)
