"""DPO held-out metrics of an adapter on test preference pairs (of either strategy).

With the policy = the tuned model and the reference = the same model under dpo.lora.adapters_disabled,
the implicit DPO reward of a response is r = beta * (log pi(y | x) - log pi_ref(y | x)) (sequence sums), and
over the pairs:
  reward_accuracy = mean [r_chosen > r_rejected]
  reward_margin   = mean (r_chosen - r_rejected)
Both are 0-information for a model without adapters (every reward is 0), so they are computed only for adapters.
"""
from __future__ import annotations

from typing import Sequence

import torch
from tqdm.auto import tqdm

from dpo.data import PreferencePair, Truncation, collate, tokenize_pairs
from dpo.logprobs import concatenated_forward
from dpo.lora import adapters_disabled
from dpo.models import eval_mode
from dpo.precision import autocast
from eval.metrics import mean_ci


@torch.no_grad()
def preference_metrics(model, tokenizer, pairs: Sequence[PreferencePair], *, beta: float = 0.1,
                       precision: str = "bf16", batch_size: int = 8, trunc: Truncation = Truncation(512, 256),
                       seed: int = 0, desc: str = "held-out pairs") -> dict:
    """{"reward_accuracy", "reward_margin": Estimate, "pairs": int} of a LoRA model on `pairs`."""
    tokenized = tokenize_pairs(tokenizer, pairs, trunc)
    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    margins: list[float] = []
    with eval_mode(model):
        for start in tqdm(range(0, len(tokenized.examples), batch_size), desc=desc, unit="batch", leave=False):
            batch = collate(tokenized.examples[start:start + batch_size], pad_id)
            with autocast(device, precision):
                chosen, rejected = concatenated_forward(model, batch)
                with adapters_disabled(model):
                    ref_chosen, ref_rejected = concatenated_forward(model, batch)
            margin = beta * ((chosen.sum - ref_chosen.sum) - (rejected.sum - ref_rejected.sum))
            margins.extend(margin.tolist())
    return {"reward_accuracy": mean_ci([m > 0 for m in margins], seed=seed),
            "reward_margin": mean_ci(margins, seed=seed), "pairs": len(margins)}
