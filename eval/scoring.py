"""Forced choice by log-probability.

Each option is scored as the assistant's response to the item's prompt, through the same chat-template
path as training (dpo.data.encode_prompt / encode_response / join): for option k,
    logp_sum[k]  = sum_t log pi(y_k,t | x, y_k,<t)     (the end-of-turn token included)
    logp_mean[k] = logp_sum[k] / len(y_k)              (length-normalised)
The options are never listed inside the prompt, so no option has a position the model could prefer:
the score of an option does not depend on the order of the options, which is the order-averaged score
of the issue computed exactly with a single order (tests/test_eval.py checks that permuting the options
leaves every score unchanged). The probability of the answer option is the softmax over the options,
    p_answer = exp(logp[answer]) / sum_k exp(logp[k]),
for both variants; the choice is argmax_k logp[k]. The length-normalised variant is the headline one
(options differ in length, and a sum favours short options); both are reported.

All option sequences of all items are sorted by length and scored in batches (little padding).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from dpo.data import Truncation, encode_prompt, encode_response, join, pad, IGNORE_INDEX
from dpo.logprobs import forward_logps
from dpo.models import eval_mode
from dpo.precision import autocast
from eval.suites import Item

VARIANTS = ("mean", "sum")  # headline first


@dataclass(frozen=True)
class ScoringConfig:
    batch_size: int = 16  # sequences (item x option) per forward pass
    precision: str = "bf16"  # fp32 | bf16 | fp16 (autocast; the log-softmax stays fp32)
    max_length: int = 512  # prompt + option tokens
    max_prompt_length: int = 384  # a longer prompt keeps its end


@dataclass
class ItemScore:
    """Forced-choice result of one item: per-option log-probs (K,) and token counts."""
    id: str
    answer: int
    logp_sum: list[float]
    logp_mean: list[float]
    n_tokens: list[int]

    def logps(self, variant: str = "mean") -> torch.Tensor:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        return torch.tensor(self.logp_mean if variant == "mean" else self.logp_sum, dtype=torch.float64)

    def probs(self, variant: str = "mean") -> torch.Tensor:
        """(K,) softmax over the options' log-probs."""
        return self.logps(variant).softmax(0)

    def p_answer(self, variant: str = "mean") -> float:
        return float(self.probs(variant)[self.answer])

    def choice(self, variant: str = "mean") -> int:
        return int(self.logps(variant).argmax())

    def correct(self, variant: str = "mean") -> bool:
        return self.choice(variant) == self.answer

    def to_json(self) -> dict:
        return {"id": self.id, "answer": self.answer, "logp_sum": self.logp_sum, "logp_mean": self.logp_mean,
                "n_tokens": self.n_tokens, "p_answer": {v: self.p_answer(v) for v in VARIANTS}}


def option_sequences(tokenizer, items: Sequence[Item], trunc: Truncation) -> list[tuple[int, int, list[int], list[int]]]:
    """(item index, option index, input_ids, labels) for every option of every item."""
    out = []
    for i, item in enumerate(items):
        prompt_ids = encode_prompt(tokenizer, item.prompt)
        for k, option in enumerate(item.options):
            ids, labels, _ = join(prompt_ids, encode_response(tokenizer, option), trunc)
            out.append((i, k, ids, labels))
    return out


@torch.no_grad()
def score_items(model, tokenizer, items: Sequence[Item], cfg: ScoringConfig = ScoringConfig(), *,
                desc: str = "forced choice") -> list[ItemScore]:
    """Score every option of every item (items need >= 2 options); returns one ItemScore per item."""
    trunc = Truncation(cfg.max_length, cfg.max_prompt_length)
    seqs = sorted(option_sequences(tokenizer, items, trunc), key=lambda s: len(s[2]))
    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    sums = [[0.0] * len(item.options) for item in items]
    means = [[0.0] * len(item.options) for item in items]
    counts = [[0] * len(item.options) for item in items]
    with eval_mode(model):
        for start in tqdm(range(0, len(seqs), cfg.batch_size), desc=desc, unit="batch", leave=False):
            batch = seqs[start:start + cfg.batch_size]
            input_ids = pad([s[2] for s in batch], pad_id).to(device)
            mask = pad([[1] * len(s[2]) for s in batch], 0).to(device)
            labels = pad([s[3] for s in batch], IGNORE_INDEX).to(device)
            with autocast(device, cfg.precision):
                out = forward_logps(model, input_ids, mask, labels)
            for row, (i, k, _, _) in enumerate(batch):
                sums[i][k], means[i][k], counts[i][k] = float(out.sum[row]), float(out.mean[row]), int(out.count[row])
    return [ItemScore(item.id, item.answer, sums[i], means[i], counts[i]) for i, item in enumerate(items)]
