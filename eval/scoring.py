"""Forced choice by log-probability.

Each option is scored as the assistant's response to the item's prompt, through the same chat-template
path as training (dpo.data.encode_prompt / encode_response): for option k,
    logp_sum[k]  = sum_t log pi(y_k,t | x, y_k,<t)     (the end-of-turn token included)
    logp_mean[k] = logp_sum[k] / len(y_k)              (length-normalised)
The options are never listed inside the prompt, so no option has a position the model could prefer:
the score of an option does not depend on the order of the options (tests/test_eval.py checks it).
The probability of option k is the softmax over the options, p_k = exp(logp[k]) / sum_j exp(logp[j]), for
both variants; the choice is argmax_k logp[k]. The length-normalised variant is the headline one for
choices between replies (a sum favours short options); the sum is the model's own probability ratio
(decisions: p(yes) uses it). Both are kept.

Every option of an item sees the same prompt: when the prompt is too long, the cut is decided once per item,
on its longest option (dpo.data.cut_prompt), never per option. The prompt is computed once per item: prompts are
run left-padded in a batch with the KV cache kept, the cache rows are repeated for each option, and the
options run right-padded after them (for the model types whose logits are the output head on the last hidden
state, dpo.logprobs.PLAIN_HEAD_MODELS; other models run prompt + option as whole sequences).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from dpo import distributed
from dpo.data import IGNORE_INDEX, Truncation, cut_prompt, encode_prompt, encode_response, join, pad
from dpo.logprobs import PLAIN_HEAD_MODELS, SequenceLogps, forward_logps, hidden_logps
from dpo.models import eval_mode
from dpo.precision import autocast
from dpo.sampling import left_pad
from eval.suites import Item

VARIANTS = ("mean", "sum")  # headline first


@dataclass(frozen=True)
class ScoringConfig:
    batch_size: int = 16  # option sequences per forward pass
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (autocast; the log-softmax stays fp32)
    max_length: int = 512  # prompt + option tokens
    max_prompt_length: int = 384  # a longer prompt keeps its end


@dataclass
class ItemScore:
    """Forced-choice result of one item: per-option log-probs (K,) and token counts."""
    id: str
    answer: int  # -1 when no option is correct (decision items)
    logp_sum: list[float]
    logp_mean: list[float]
    n_tokens: list[int]
    truncated: bool = False  # the prompt or an option was cut

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
        out = {"id": self.id, "answer": self.answer, "logp_sum": self.logp_sum, "logp_mean": self.logp_mean,
               "n_tokens": self.n_tokens, "truncated": self.truncated}
        if self.answer >= 0:
            out["p_answer"] = {v: self.p_answer(v) for v in VARIANTS}
        return out


@dataclass
class Encoded:
    """One item tokenized: the shared prompt and each option's ids (end-of-turn included)."""
    prompt: list[int]
    options: list[list[int]]
    truncated: bool


def encode_item(tokenizer, item: Item, trunc: Truncation) -> Encoded:
    """The item's prompt, cut once for its longest option, and each option cut alone after it."""
    full_prompt = encode_prompt(tokenizer, item.prompt)
    responses = [encode_response(tokenizer, o) for o in item.options]
    prompt = cut_prompt(full_prompt, max(len(r) for r in responses), trunc)
    options, cut = [], len(prompt) < len(full_prompt)
    for r in responses:
        ids, _, truncated = join(prompt, r, trunc)
        options.append(ids[len(prompt):])
        cut |= truncated
    return Encoded(prompt, options, cut)


def batches(encoded: Sequence[Encoded], batch_size: int) -> list[list[int]]:
    """Item indices grouped so that a batch holds at most batch_size options (an item with more options
    is alone); items sorted by length first, so a batch holds similar lengths (little padding)."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].prompt) + max(map(len, encoded[i].options)))
    out, current, rows = [], [], 0
    for i in order:
        k = len(encoded[i].options)
        if current and rows + k > batch_size:
            out.append(current)
            current, rows = [], 0
        current.append(i)
        rows += k
    return out + [current] if current else out


def shared_prompt_logps(model, group: Sequence[Encoded], pad_id: int) -> SequenceLogps:
    """Log-probs of every option of the items in `group` (rows in item order, options in order), each prompt
    run once. Prompts (B, P) left-padded -> KV cache; its rows repeated per option -> options (R, O)
    right-padded after the cache. The first option token is predicted by the prompt's last position."""
    device = next(model.parameters()).device
    body, head = model.get_decoder(), model.get_output_embeddings()
    ids, real = left_pad([e.prompt for e in group], pad_id)
    ids, real = ids.to(device), real.to(device)
    positions = (real.long().cumsum(-1) - 1).clamp(min=0)
    out = body(input_ids=ids, attention_mask=real.long(), position_ids=positions, use_cache=True)
    rows = torch.tensor([i for i, e in enumerate(group) for _ in e.options], device=device)
    cache = out.past_key_values
    cache.reorder_cache(rows)
    options = [o for e in group for o in e.options]
    opt_ids = pad(options, pad_id).to(device)
    opt_real = pad([[1] * len(o) for o in options], 0).to(device)
    mask = torch.cat([real.long()[rows], opt_real], 1)  # (R, P + O)
    opt_positions = real.long().sum(-1)[rows, None] + torch.arange(opt_ids.shape[1], device=device)
    hidden = body(input_ids=opt_ids, attention_mask=mask, position_ids=opt_positions, past_key_values=cache,
                  use_cache=True).last_hidden_state  # (R, O, H)
    hidden = torch.cat([out.last_hidden_state[rows, -1:], hidden], 1)  # (R, 1 + O, H)
    labels = torch.cat([torch.full((len(options), 1), IGNORE_INDEX, device=device),
                        pad(options, IGNORE_INDEX).to(device)], 1)  # position t predicts labels[t + 1]
    return hidden_logps(head, hidden, labels)


def whole_sequence_logps(model, group: Sequence[Encoded], pad_id: int) -> SequenceLogps:
    """The same numbers for any causal LM: prompt + option run as one sequence per option."""
    device = next(model.parameters()).device
    seqs = [(e.prompt + o, [IGNORE_INDEX] * len(e.prompt) + o) for e in group for o in e.options]
    return forward_logps(model, pad([s[0] for s in seqs], pad_id).to(device),
                         pad([[1] * len(s[0]) for s in seqs], 0).to(device), pad([s[1] for s in seqs], IGNORE_INDEX).to(device))


@torch.no_grad()
def score_items(model, tokenizer, items: Sequence[Item], cfg: ScoringConfig = ScoringConfig(), *,
                desc: str = "forced choice") -> list[ItemScore]:
    """Score every option of every item (items need >= 2 options); returns one ItemScore per item.
    Under torchrun (evaluate.py) rank r scores batches r, r + N, ... and every rank gets every score, in order."""
    trunc = Truncation(cfg.max_length, cfg.max_prompt_length)
    encoded = [encode_item(tokenizer, item, trunc) for item in items]
    shared = getattr(model.config, "model_type", None) in PLAIN_HEAD_MODELS
    score = shared_prompt_logps if shared else whole_sequence_logps
    device = next(model.parameters()).device
    results: dict[int, tuple[list[float], list[float], list[int]]] = {}
    with eval_mode(model):
        groups = distributed.share(batches(encoded, cfg.batch_size))
        for group in tqdm(groups, desc=desc, unit="batch", leave=False, disable=not distributed.is_main()):
            with autocast(device, cfg.precision):
                out = score(model, [encoded[i] for i in group], tokenizer.pad_token_id)
            row = 0
            for i in group:
                k = len(encoded[i].options)
                results[i] = (out.sum[row:row + k].tolist(), out.mean[row:row + k].tolist(),
                              [int(c) for c in out.count[row:row + k]])
                row += k
    gathered = distributed.gather_in_order(results, len(items))
    return [ItemScore(item.id, item.answer, *gathered[i], truncated=encoded[i].truncated)
            for i, item in enumerate(items)]
