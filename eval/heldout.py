"""DPO held-out metrics of an adapter on test preference pairs (of either strategy).

With the policy = the tuned model and the reference = the same base model (scored once, with the base's own
evaluation, and kept with its results; or under dpo.lora.adapters_disabled on the first adapter when the base's
results predate that), the implicit DPO reward of a response is r = beta * (log pi(y | x) - log pi_ref(y | x))
(sequence sums), and over the pairs:
  reward_accuracy = mean [r_chosen > r_rejected]
  reward_margin   = mean (r_chosen - r_rejected)
Both are 0-information for a model without adapters (every reward is 0), so they are computed only for adapters.
The log-probs come from eval.scoring (a pair is an item with options [chosen, rejected]): chosen and rejected
see the same prompt, cut once per pair, and the prompt is computed once.
"""
from __future__ import annotations

from typing import Sequence

from dpo.data import PreferencePair, Truncation, messages_for
from eval.scoring import ScoringConfig, score_items
from eval.stats import mean_ci
from eval.suites import Item


def pair_items(pairs: Sequence[PreferencePair]) -> list[Item]:
    return [Item(id=p.id or str(i), kind="pair", domain="", prompt=messages_for(p.prompt, p.system),
                 options=[p.chosen, p.rejected], answer=0) for i, p in enumerate(pairs)]


def score_pairs(model, tokenizer, pairs: Sequence[PreferencePair], *, precision: str = "auto", batch_size: int = 8,
                trunc: Truncation = Truncation(512, 256), desc: str = "held-out pairs") -> list[list[float]]:
    """Per pair, the sequence log-probs [chosen, rejected] under `model` as it is (policy, or reference when
    called on the base or under adapters_disabled)."""
    cfg = ScoringConfig(batch_size, precision, trunc.max_length, trunc.max_prompt_length)
    return [s.logp_sum for s in score_items(model, tokenizer, pair_items(pairs), cfg, desc=desc)]


def preference_metrics(policy: Sequence[Sequence[float]], reference: Sequence[Sequence[float]], *,
                       beta: float = 0.1, seed: int = 0) -> dict:
    """{"reward_accuracy", "reward_margin": Estimate, "pairs": int} from the policy's and the reference's
    log-probs [chosen, rejected] of the same pairs (score_pairs)."""
    if len(policy) != len(reference):
        raise ValueError(f"{len(policy)} policy scores for {len(reference)} reference scores")
    margins = [beta * ((p[0] - r[0]) - (p[1] - r[1]))
               for p, r in zip(policy, reference)]
    return {"reward_accuracy": mean_ci([float(m > 0) for m in margins], seed=seed),
            "reward_margin": mean_ci(margins, seed=seed), "pairs": len(margins)}
