"""PPO for RLHF (Schulman et al. 2017; Ziegler et al. 2019), following "The N+ Implementation Details of RLHF
with PPO" (Huang et al. 2024, arXiv 2403.17031). One step:

  1. rollout: one response per prompt, sampled at `temperature`, at most `response_length` tokens;
  2. without gradients: log-probs and values of the policy, log-probs of the reference (the same model with
     its adapters disabled: no second copy), scores (reward model or function), minus eos_penalty for a
     response without its end-of-turn token;
  3. per-token rewards r_t = -kl_coef * (logp_t - ref_logp_t), plus the score at the last token; GAE
     (gamma, lam; 1 and 0.95 by default) gives advantages and returns; advantages are whitened;
  4. ppo_epochs passes (default 4) over the rollout in `minibatches` shuffled minibatches, one optimizer step each:
     masked mean of the clipped policy loss + vf_coef * the clipped value loss;
  5. with kl_target > 0, the adaptive controller moves kl_coef toward the target KL (Ziegler et al. 2019).

The value head is a linear layer on the policy's last hidden states, initialised to zero (V = 0 at the
start), sharing the policy's trunk: one forward gives log-probs and values. (Huang et al. use a separate
critic initialised from the reward model; on a CPU that would cost a third copy of the model.)

Under torchrun (--dist ddp) each rank samples, scores and runs GAE on its shard of the step's prompts (the
single process's responses: a row's sampler is seeded by its position in the step's rollout); advantages
are whitened with the whole batch's moments (count, sum, sum of squares added up over the ranks), and the
masked means of the loss divide by the micro-batch's token count over all ranks, so the update is the
single process's.

Metrics (community names): objective/kl (mean over responses of sum_t logp_t - ref_logp_t),
objective/scores, objective/rlhf_reward (score - kl_coef * kl), objective/non_score_reward,
policy/entropy, policy/approxkl, policy/clipfrac, loss/policy, loss/value, value/clipfrac, val/ratio,
val/num_eos_tokens, val/response_length, kl_coef.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from dpo import distributed
from dpo.config import TrainConfig
from dpo.lora import adapters_disabled
from dpo.models import eval_mode

from .math import (adaptive_kl_coef, clipped_policy_loss, clipped_value_loss, gae, kl_k1, masked_mean,
                   masked_moments, masked_whiten, sequence_kl, token_rewards)
from .rewards import Scorer, penalised
from .rollout import (Prompt, Rollout, rank_sums, response_forward, response_forward_batched, sample_rollout,
                      shard_prompts, update_minibatches)


class PolicyWithValue(nn.Module):
    """The policy (a causal LM with LoRA adapters) and a zero-initialised value head on its hidden states."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm
        self.value_head = nn.Linear(lm.config.hidden_size, 1, dtype=lm.get_input_embeddings().weight.dtype)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)


def rollout_seed(cfg: TrainConfig, step: int | None) -> int:
    """The sampler seed of step `step`'s rollout (0-based; fresh generators every step), or of the held-out
    rollouts (step None: the same at every evaluation, so evaluations compare)."""
    return cfg.seed * 1_000_003 + (0 if step is None else step + 1)


def score_rollout(policy_lm, rollout: Rollout, scorer: Scorer, cfg: TrainConfig, *, device: torch.device,
                  value_head: nn.Module | None = None):
    """Without gradients: (policy output, reference log-probs (B, R), penalised scores (B,))."""
    with eval_mode(policy_lm):
        old = response_forward_batched(policy_lm, rollout, cfg.temperature, cfg.ref_batch_size, value_head,
                                       device=device, precision=cfg.precision)
        with adapters_disabled(policy_lm):
            ref = response_forward_batched(policy_lm, rollout, cfg.temperature, cfg.ref_batch_size,
                                           device=device, precision=cfg.precision)
    return old, ref.logps, penalised(scorer(rollout), rollout.ended, cfg.eos_penalty)


def rollout_metrics(rollout: Rollout, old, ref_logps: torch.Tensor, scores: torch.Tensor, kl_coef: float,
                    real: bool = True) -> dict:
    """The objective/ and val/ metrics of a scored rollout (per-sequence KL: the k1 sum over its tokens), over
    the whole batch: under torchrun each rank's sums (none from a stand-in shard, real False) are added up."""
    kl = sequence_kl(kl_k1(old.logps, ref_logps), rollout.mask)
    s = rank_sums({"rows": len(rollout), "tokens": rollout.mask.sum(), "kl": kl.sum(), "scores": scores.sum(),
                   "entropy": (old.entropy * rollout.mask).sum(), "ended": rollout.ended.sum()}, real, kl.device)
    n = s["rows"]
    return {"objective/kl": s["kl"] / n, "objective/scores": s["scores"] / n,
            "objective/rlhf_reward": (s["scores"] - kl_coef * s["kl"]) / n,
            "objective/non_score_reward": -kl_coef * s["kl"] / n, "policy/entropy": s["entropy"] / s["tokens"],
            "val/num_eos_tokens": s["ended"], "val/response_length": s["tokens"] / n}


def ppo_step(policy: PolicyWithValue, tokenizer, prompts: Sequence[Prompt], *, step: int, kl_coef: float,
             scorer: Scorer, cfg: TrainConfig, device: torch.device, optimizer, scaler, params,
             run: distributed.Runner = distributed.single) -> tuple[dict, float]:
    """One PPO iteration on `prompts` (the step's, in order); returns (metrics, the KL coefficient for the
    next step). Under torchrun (`run` from dpo.distributed.parallelize) each rank samples and scores its
    shard of the prompts, the advantages are whitened with the moments of the whole batch, and the updates
    are the single process's (rlhf.rollout.update_minibatches)."""
    mine, rows, held = shard_prompts(prompts)
    rollout = sample_rollout(policy.lm, tokenizer, mine, max_new_tokens=cfg.response_length,
                             temperature=cfg.temperature, seed=rollout_seed(cfg, step), precision=cfg.precision,
                             device=device, rows=rows)
    old, ref_logps, scores = score_rollout(policy.lm, rollout, scorer, cfg, device=device, value_head=policy.value_head)
    mask, real = rollout.mask, bool(held)
    rewards = token_rewards(scores, kl_k1(old.logps, ref_logps), mask, kl_coef)
    advantages, returns = gae(rewards, old.values, mask, cfg.gamma, cfg.lam)
    moments = distributed.global_sum(masked_moments(advantages, mask * real))  # the whole batch's, over the ranks
    advantages = masked_whiten(advantages, mask, moments=moments)

    def loss_fn(rows: torch.Tensor, count: dict) -> tuple[torch.Tensor, dict]:
        m, tokens = mask[rows], count["tokens"]  # this rank's part of the masked means over the micro-batch
        out = response_forward(policy.lm, rollout.select(rows), cfg.temperature, policy.value_head)
        pg, info = clipped_policy_loss(out.logps, old.logps[rows], advantages[rows], cfg.cliprange)
        vf, vf_clipped = clipped_value_loss(out.values, old.values[rows], returns[rows], cfg.cliprange_value)
        pg_loss, vf_loss = masked_mean(pg, m, count=tokens), masked_mean(vf, m, count=tokens)
        return pg_loss + cfg.vf_coef * vf_loss, {
            "loss/policy": pg_loss.detach(), "loss/value": vf_loss.detach(),
            "policy/approxkl": masked_mean(info["approxkl"], m, count=tokens),
            "policy/clipfrac": masked_mean(info["clipped"], m, count=tokens),
            "value/clipfrac": masked_mean(vf_clipped, m, count=tokens),
            "val/ratio": masked_mean(info["ratio"], m, count=tokens)}

    metrics = rollout_metrics(rollout, old, ref_logps, scores, kl_coef, real)
    metrics.update(update_minibatches(len(prompts), held, mask.sum(-1), cfg, seed=cfg.seed * 1_000_003 + step,
                                      loss_fn=loss_fn, optimizer=optimizer, scaler=scaler, params=params,
                                      device=device, run=run))
    metrics["kl_coef"] = kl_coef
    metrics["tokens"] = int(rank_sums({"tokens": rollout.attention_mask.sum()}, real, device)["tokens"])
    if cfg.kl_target > 0:
        kl_coef = adaptive_kl_coef(kl_coef, metrics["objective/kl"], cfg.kl_target, cfg.kl_horizon, len(prompts))
    return {k: float(v) if isinstance(v, torch.Tensor) else v for k, v in metrics.items()}, kl_coef
