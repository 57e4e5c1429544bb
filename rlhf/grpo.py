"""GRPO: group relative policy optimisation (DeepSeekMath, Shao et al. 2024, arXiv 2402.03300). One step:

  1. rollout: G = group_size responses to each prompt, sampled at `temperature`, at most `response_length`
     tokens;
  2. scores from the reward model or a reward function, minus eos_penalty for a response without its
     end-of-turn token; no value model: the advantage of response i is its score standardised within its
     group, A_i = (r_i - mean(r_group)) / (std(r_group) + eps), the same for each of its tokens;
  3. ppo_epochs passes (default 1) over the rollout in `minibatches` shuffled minibatches, one optimizer step each, on
         loss = mean over responses of the mean over their tokens of
                max(-A ratio_t, -A clip(ratio_t, 1 - eps, 1 + eps)) + kl_coef * k3_t,
     ratio_t = pi(y_t) / pi_old(y_t), k3_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1 against the
     reference (the same model with its adapters disabled).
With a single update a step (one pass, the default, and one minibatch), pi_old is the policy itself (the
ratio is 1 in value, its gradient the policy gradient) and no separate pass computes old log-probs.

Under torchrun (--dist ddp) each rank samples and scores whole groups (its shard of the step's prompts, the
single process's responses: a row's sampler is seeded by its position in the step's rollout), so the group
means and stds need no collective; the loss (a mean over responses) divides each rank's sum by the
micro-batch's response count over all ranks, so the update is the single process's.

Metrics as PPO's: objective/kl (per-sequence k1 sum, as in PPO, so the two compare), objective/scores,
objective/rlhf_reward, policy/entropy, policy/approxkl, policy/clipfrac, loss/policy, loss/kl (the k3
term), val/ratio, val/num_eos_tokens, val/response_length, objective/scores_std_in_group.
"""
from __future__ import annotations

from typing import Sequence

import torch

from dpo import distributed
from dpo.config import TrainConfig
from dpo.lora import adapters_disabled
from dpo.models import eval_mode

from .math import clipped_policy_loss, group_advantages, kl_k1, kl_k3, masked_mean, sequence_kl
from .ppo import rollout_seed
from .rewards import Scorer, penalised
from .rollout import (Prompt, passes, rank_sums, response_forward, response_forward_batched, sample_rollout,
                      shard_prompts, update_minibatches)


def grpo_step(model, tokenizer, prompts: Sequence[Prompt], *, step: int, scorer: Scorer, cfg: TrainConfig,
              device: torch.device, optimizer, scaler, params, run: distributed.Runner = distributed.single) -> dict:
    """One GRPO iteration on `prompts` (the step's, in order; each sampled group_size times); returns its
    metrics. Under torchrun (`run` from dpo.distributed.parallelize) each rank samples and scores whole
    groups (its shard of the prompts), so the group statistics stay on one rank, and the updates are the
    single process's (rlhf.rollout.update_minibatches)."""
    G = cfg.group_size
    mine, rows, held = shard_prompts(prompts, G)
    rollout = sample_rollout(model, tokenizer, mine, max_new_tokens=cfg.response_length,
                             temperature=cfg.temperature, seed=rollout_seed(cfg, step), precision=cfg.precision,
                             device=device, rows=rows)
    single_update = passes(cfg) == 1 and cfg.minibatches == 1
    with eval_mode(model):
        old = None if single_update else response_forward_batched(
            model, rollout, cfg.temperature, cfg.ref_batch_size, device=device, precision=cfg.precision)
        with adapters_disabled(model):
            ref_logps = response_forward_batched(model, rollout, cfg.temperature, cfg.ref_batch_size,
                                                 device=device, precision=cfg.precision).logps
    scores = penalised(scorer(rollout), rollout.ended, cfg.eos_penalty)
    advantages = group_advantages(scores, G)
    mask = rollout.mask

    def loss_fn(rows: torch.Tensor, count: dict) -> tuple[torch.Tensor, dict]:
        m, n, tokens = mask[rows], count["rows"], count["tokens"]  # this rank's part of the micro-batch's means
        out = response_forward(model, rollout.select(rows), cfg.temperature)
        old_logps = out.logps.detach() if old is None else old.logps[rows]
        pg, info = clipped_policy_loss(out.logps, old_logps, advantages[rows, None].expand_as(out.logps), cfg.cliprange)
        kl = kl_k3(out.logps, ref_logps[rows])
        per_sequence = masked_mean(pg + cfg.kl_coef * kl, m, dim=-1)
        seq_kl = sequence_kl(kl_k1(out.logps.detach(), ref_logps[rows]), m)
        return per_sequence.sum() / n, {
            "loss/policy": masked_mean(pg, m, dim=-1).sum().detach() / n,
            "loss/kl": masked_mean(kl, m, dim=-1).sum().detach() / n,
            "objective/kl": seq_kl.sum() / n, "objective/rlhf_reward": (scores[rows] - cfg.kl_coef * seq_kl).sum() / n,
            "policy/entropy": masked_mean(out.entropy, m, count=tokens),
            "policy/approxkl": masked_mean(info["approxkl"], m, count=tokens),
            "policy/clipfrac": masked_mean(info["clipped"], m, count=tokens),
            "val/ratio": masked_mean(info["ratio"], m, count=tokens)}

    metrics = update_minibatches(len(prompts) * G, held, mask.sum(-1), cfg, seed=cfg.seed * 1_000_003 + step,
                                 loss_fn=loss_fn, optimizer=optimizer, scaler=scaler, params=params, device=device,
                                 run=run)
    s = rank_sums({"rows": len(rollout), "scores": scores.sum(), "std_in_group": scores.view(-1, G).std(-1).sum(),
                   "ended": rollout.ended.sum(), "response": mask.sum(), "tokens": rollout.attention_mask.sum()},
                  bool(held), device)
    n = s["rows"]
    metrics.update({"objective/scores": s["scores"] / n, "objective/scores_std_in_group": s["std_in_group"] / (n / G),
                    "val/num_eos_tokens": s["ended"], "val/response_length": s["response"] / n,
                    "tokens": int(s["tokens"])})
    return metrics
