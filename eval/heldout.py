"""DPO held-out metrics of an adapter on test preference pairs (of either strategy).

With the policy = the tuned model and the reference = the same model under dpo.lora.adapters_disabled,
the implicit DPO reward of a response is r = beta * (log pi(y | x) - log pi_ref(y | x)) (sequence sums), and
over the pairs:
  reward_accuracy = mean [r_chosen > r_rejected]
  reward_margin   = mean (r_chosen - r_rejected)
Both are 0-information for a model without adapters (every reward is 0), so they are computed only for adapters.
The log-probs come from eval.scoring (a pair is an item with options [chosen, rejected]): chosen and rejected
see the same prompt, cut once per pair, and the prompt is computed once.
"""
from __future__ import annotations

from typing import Sequence

from dpo.data import PreferencePair, Truncation, messages_for
from dpo.lora import adapters_disabled
from eval.scoring import ScoringConfig, score_items
from eval.stats import mean_ci
from eval.suites import Item


def pair_items(pairs: Sequence[PreferencePair]) -> list[Item]:
    return [Item(id=p.id or str(i), kind="pair", domain="", prompt=messages_for(p.prompt, p.system),
                 options=[p.chosen, p.rejected], answer=0) for i, p in enumerate(pairs)]


def preference_metrics(model, tokenizer, pairs: Sequence[PreferencePair], *, beta: float = 0.1,
                       precision: str = "bf16", batch_size: int = 8, trunc: Truncation = Truncation(512, 256),
                       seed: int = 0, desc: str = "held-out pairs") -> dict:
    """{"reward_accuracy", "reward_margin": Estimate, "pairs": int} of a LoRA model on `pairs`."""
    items = pair_items(pairs)
    cfg = ScoringConfig(batch_size, precision, trunc.max_length, trunc.max_prompt_length)
    policy = score_items(model, tokenizer, items, cfg, desc=desc)
    with adapters_disabled(model):
        reference = score_items(model, tokenizer, items, cfg, desc=f"{desc} (reference)")
    margins = [beta * ((p.logp_sum[0] - r.logp_sum[0]) - (p.logp_sum[1] - r.logp_sum[1]))
               for p, r in zip(policy, reference)]
    return {"reward_accuracy": mean_ci([float(m > 0) for m in margins], seed=seed),
            "reward_margin": mean_ci(margins, seed=seed), "pairs": len(margins)}
