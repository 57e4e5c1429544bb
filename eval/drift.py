"""Drift: how far a tuned model moved from its base on neutral text (data/eval/neutral.txt).

The text holds question/answer blocks; each answer is scored as the assistant's response to its question
through the training chat path (dpo.data.encode_prompt / encode_response / join). Over all answer tokens:
  kl         = mean_t KL(pi_tuned(. | x, y_<t) || pi_base(. | x, y_<t)), the base being the same model under
               dpo.lora.adapters_disabled (no second copy); 0 for a model without adapters.
  perplexity = exp(-sum_t log pi(y_t | x, y_<t) / number of answer tokens).
Under torchrun (evaluate.py) rank r runs batches r, r + N, ... and the three sums (KL, log-probs, tokens) are
added over the ranks, so every rank returns the single process's numbers (up to the order of float64 sums).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from tqdm.auto import tqdm

from dpo import distributed
from dpo.data import IGNORE_INDEX, DataError, Truncation, encode_prompt, encode_response, join, pad
from dpo.logprobs import forward_logps, sequence_logps
from dpo.lora import adapters_disabled, lora_layers
from dpo.models import eval_mode
from dpo.precision import autocast

NEUTRAL_TEXT = Path(__file__).resolve().parents[1] / "data" / "eval" / "neutral.txt"


def read_neutral(path: str | os.PathLike = NEUTRAL_TEXT) -> list[tuple[str, str]]:
    """[(question, answer)] from blank-line-separated blocks (first line the question; '#' lines are comments)."""
    path = Path(path)
    blocks, current, start = [], [], 0
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines() + [""], 1):
        if line.startswith("#"):
            continue
        if line.strip():
            start = start or lineno
            current.append(line.strip())
        elif current:
            if len(current) < 2:
                raise DataError(f"{path}:{start}: a block needs a question line and at least one answer line")
            blocks.append((current[0], " ".join(current[1:])))
            current, start = [], 0
    if not blocks:
        raise DataError(f"{path}: no question/answer blocks")
    return blocks


def kl_per_token(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """(N, V), (N, V) -> (N,) KL(p || q) = sum_v p_v (log p_v - log q_v), computed in float32."""
    logp, logq = logits_p.float().log_softmax(-1), logits_q.float().log_softmax(-1)
    return (logp.exp() * (logp - logq)).sum(-1)


def _batches(tokenizer, blocks, batch_size: int, trunc: Truncation):
    seqs = [join(encode_prompt(tokenizer, q), encode_response(tokenizer, a), trunc)[:2] for q, a in blocks]
    pad_id = tokenizer.pad_token_id
    for start in range(0, len(seqs), batch_size):
        part = seqs[start:start + batch_size]
        yield (pad([s[0] for s in part], pad_id), pad([[1] * len(s[0]) for s in part], 0),
               pad([s[1] for s in part], IGNORE_INDEX))


@torch.no_grad()
def drift(model, tokenizer, blocks: list[tuple[str, str]] | None = None, *, precision: str = "auto",
          batch_size: int = 4, trunc: Truncation = Truncation(512, 256)) -> dict[str, float]:
    """{"kl": mean per-token KL from the base, "perplexity": on the answers, "tokens": answer tokens}."""
    blocks = blocks if blocks is not None else read_neutral()
    device = next(model.parameters()).device
    tuned = bool(lora_layers(model))
    total_kl, total_logp, total_tokens = 0.0, 0.0, 0
    with eval_mode(model):
        batches = distributed.share(list(_batches(tokenizer, blocks, batch_size, trunc)))
        for ids, mask, labels in tqdm(batches, desc="drift", unit="batch", leave=False,
                                      disable=not distributed.is_main()):
            ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
            with autocast(device, precision):
                if tuned:  # one tuned forward serves the perplexity and the KL
                    tuned_logits = model(input_ids=ids, attention_mask=mask).logits
                    out = sequence_logps(tuned_logits, labels)
                    scored = labels[:, 1:] != IGNORE_INDEX  # position t predicts answer token t + 1
                    with adapters_disabled(model):
                        base_logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][scored]
                    total_kl += float(kl_per_token(tuned_logits[:, :-1][scored], base_logits).sum())
                else:
                    out = forward_logps(model, ids, mask, labels)
                total_logp += float(out.sum.sum())
                total_tokens += int(out.count.sum())
    sums = distributed.global_sum({k: torch.tensor(v, dtype=torch.float64) for k, v in  # over the ranks (if any)
                                   (("kl", total_kl), ("logp", total_logp), ("tokens", total_tokens))})
    total_kl, total_logp, total_tokens = float(sums["kl"]), float(sums["logp"]), int(sums["tokens"])
    return {"kl": total_kl / max(total_tokens, 1), "perplexity": math.exp(-total_logp / max(total_tokens, 1)),
            "tokens": total_tokens}
