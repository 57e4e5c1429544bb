"""Sequence log-probs of responses: log pi(y | x) summed and averaged over the response tokens.

Position t of the logits predicts token t + 1, so the log-prob of a sequence is
    sum_t [labels[t+1] != IGNORE_INDEX] * log_softmax(logits[t])[labels[t+1]],
which leaves out the prompt and the padding (their labels are IGNORE_INDEX, see dpo.data).

Memory: the log-softmax is computed in float32 (a bf16 log-softmax loses digits), but never over the whole
(B, T, V) logits at once. Only response positions are scored, in chunks of at most CHUNK_BYTES of float32
logits; each chunk runs under activation checkpointing when gradients are on, so the backward pass
recomputes one chunk's logits at a time instead of keeping all of them. For models whose logits are just
the output head applied to the last hidden states (Llama, Mistral, Qwen, Phi-3), forward_logps never builds
the (B, T, V) logits at all: it runs the model body to (B, T, H) and applies the head per chunk.

Pairs: concatenated_forward scores chosen and rejected in one forward. For those models with full causal
attention under "sdpa" (transformers' default), batch_pairs packs a batch (dpo.data.pack_pairs): one row,
no padding, each pair's shared prefix (the prompt) computed once for both responses, attention kept within
each sequence by dpo.attention. Other models get the padded batch (dpo.data.collate) and two full sequences
a pair. Both give the same log-probs up to floating-point rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch.utils.checkpoint import checkpoint

from dpo import attention
from dpo.data import IGNORE_INDEX, PackedPairs, collate, pack_pairs

CHUNK_BYTES = 1 << 26  # float32 logits per chunk: 64 MiB (341 tokens at vocabulary 49152)
PLAIN_HEAD_MODELS = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3"})  # logits = lm_head(hidden)


@dataclass
class SequenceLogps:
    """Per-sequence response log-probs, each (B,) float32: `sum` over response tokens, `mean` = sum / count,
    `count` the number of response tokens."""
    sum: torch.Tensor
    mean: torch.Tensor
    count: torch.Tensor

    def select(self, index) -> "SequenceLogps":
        """The rows at `index` (a slice, a list of ints or an index tensor)."""
        if isinstance(index, (list, tuple)):
            index = torch.as_tensor(index, dtype=torch.long, device=self.sum.device)
        return SequenceLogps(self.sum[index], self.mean[index], self.count[index])

    def to(self, device: torch.device | str) -> "SequenceLogps":
        return SequenceLogps(self.sum.to(device), self.mean.to(device), self.count.to(device))


def sequence_logps(logits: torch.Tensor, labels: torch.Tensor, *, chunk_tokens: int | None = None) -> SequenceLogps:
    """Log-probs of the labelled tokens from full logits (B, T, V) and labels (B, T) (shifted inside)."""
    rows, cols, targets = _response_positions(labels)
    token_logps = _chunked_token_logps(lambda sl: logits[rows[sl], cols[sl]], targets,
                                       chunk_tokens or _default_chunk(logits.shape[-1]))
    return _reduce(token_logps, rows, labels.shape[0])


def forward_logps(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  labels: torch.Tensor, *, chunk_tokens: int | None = None) -> SequenceLogps:
    """Run a causal LM on (B, T) right-padded inputs and return the response log-probs, memory-bounded.

    Works with LoRA-injected models and with transformers' gradient checkpointing (the body's layers
    checkpoint themselves), and under torch.autocast (the head runs in the autocast dtype, the
    log-softmax in float32).
    """
    if getattr(model.config, "model_type", None) not in PLAIN_HEAD_MODELS:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return sequence_logps(logits, labels, chunk_tokens=chunk_tokens)
    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask,
                                 use_cache=False).last_hidden_state  # (B, T, H)
    return hidden_logps(model.get_output_embeddings(), hidden, labels, chunk_tokens=chunk_tokens)


def hidden_logps(head: torch.nn.Module, hidden: torch.Tensor, labels: torch.Tensor, *,
                 chunk_tokens: int | None = None) -> SequenceLogps:
    """Response log-probs from last hidden states (B, T, H) and labels (B, T) (shifted inside): the output
    head runs only on positions that predict a response token, a chunk at a time."""
    rows, cols, targets = _response_positions(labels)
    scored = hidden[rows, cols]  # (N, H): only positions that predict a response token
    return _reduce(head_token_logps(head, scored, targets, chunk_tokens), rows, labels.shape[0])


def packs_pairs(model: torch.nn.Module) -> bool:
    """Whether packed batches (prefix sharing, no padding) work for this model: a plain output head and full
    causal attention dispatched through transformers' "sdpa"."""
    config = model.config
    return (getattr(config, "model_type", None) in PLAIN_HEAD_MODELS and config._attn_implementation == "sdpa"
            and getattr(config, "sliding_window", None) is None)


def batch_pairs(model: torch.nn.Module, examples: Sequence[dict], pad_id: int) -> PackedPairs | dict[str, torch.Tensor]:
    """The batch concatenated_forward runs fastest on this model, on the model's device: packed when it can
    be, else padded."""
    device = next(model.parameters()).device
    if packs_pairs(model):
        return pack_pairs(examples).to(device)
    return {k: v.to(device) for k, v in collate(examples, pad_id).items()}


def concatenated_forward(model: torch.nn.Module, batch: PackedPairs | dict[str, torch.Tensor], *,
                         chunk_tokens: int | None = None) -> tuple[SequenceLogps, SequenceLogps]:
    """(chosen, rejected) log-probs, each (B,), of a batch of B pairs in one forward pass: a dpo.data.PackedPairs
    (see packed_forward) or a dpo.data.collate batch (the 2B padded sequences side by side)."""
    if isinstance(batch, PackedPairs):
        return packed_forward(model, batch, chunk_tokens=chunk_tokens)
    device = next(model.parameters()).device
    joined = {key: torch.cat([batch[f"chosen_{key}"], batch[f"rejected_{key}"]]).to(device)
              for key in ("input_ids", "attention_mask", "labels")}
    out = forward_logps(model, joined["input_ids"], joined["attention_mask"], joined["labels"],
                        chunk_tokens=chunk_tokens)
    n = batch["chosen_input_ids"].shape[0]
    return out.select(slice(0, n)), out.select(slice(n, 2 * n))


def packed_forward(model: torch.nn.Module, packed: PackedPairs, *,
                   chunk_tokens: int | None = None) -> tuple[SequenceLogps, SequenceLogps]:
    """(chosen, rejected) log-probs of packed pairs: the body runs once over the (1, T) row, with
    dpo.attention keeping each position to its own sequence, and the head scores packed.index per chunk."""
    if not packs_pairs(model):
        raise ValueError(f"packed pairs need a {sorted(PLAIN_HEAD_MODELS)} model with full causal 'sdpa' attention; "
                         "use dpo.logprobs.batch_pairs to get the batch this model takes")
    attention.install()
    device = next(model.parameters()).device
    packed = packed.to(device)
    layout = tuple(zip(packed.shared, packed.chosen, packed.rejected))
    head = model.get_output_embeddings()
    hidden = model.get_decoder()(input_ids=packed.input_ids, position_ids=packed.position_ids,
                                 attention_mask=torch.ones_like(packed.input_ids), use_cache=False,
                                 pair_layout=layout).last_hidden_state[0]  # (T, H)
    token_logps = head_token_logps(head, hidden[packed.index], packed.target, chunk_tokens)  # from (N, H)
    out = _reduce(token_logps, packed.sequence, 2 * packed.pairs)
    return out.select(slice(0, packed.pairs)), out.select(slice(packed.pairs, 2 * packed.pairs))


def _response_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows, cols, targets), each (N,): position (row, col) predicts targets = labels[row, col + 1]."""
    nxt = labels[:, 1:]
    rows, cols = (nxt != IGNORE_INDEX).nonzero(as_tuple=True)
    return rows, cols, nxt[rows, cols]


def head_token_logps(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor,
                     chunk_tokens: int | None = None) -> torch.Tensor:
    """(N,) float32 log_softmax(head(hidden))[targets] for hidden (N, H), per chunk of positions. A frozen
    nn.Linear head (LoRA training, reference and eval passes) takes FrozenHeadLogps; any other head (trained,
    or itself adapted) the checkpointed chunks of _chunked_token_logps. Same values, same gradients."""
    chunk = chunk_tokens or _default_chunk(head.out_features)
    if type(head) is torch.nn.Linear and not any(p.requires_grad for p in head.parameters()):
        return FrozenHeadLogps.apply(hidden, head.weight, head.bias, targets, chunk)
    return _chunked_token_logps(lambda sl: head(hidden[sl]), targets, chunk)


class FrozenHeadLogps(torch.autograd.Function):
    """log p_i = log_softmax(W h_i + b)[t_i] for each row h_i of hidden (N, H), with W (V, H) and b frozen.

    Row i's log-prob depends on h_i alone, and d log p_i / d h_i = W^T (onehot(t_i) - softmax(W h_i + b)), an
    (H,) vector: the forward pass computes it for each chunk while the chunk's logits exist, and backward only
    scales it by the incoming gradient. Against checkpointed chunks this saves the logits' recomputation (one
    of three (n, H) x (H, V) matmuls) and most of the fp32 passes over (n, V), and casts W to the autocast
    dtype once instead of once a chunk and again in the recomputation. Logits are computed in the autocast
    dtype (if any), log-softmax and softmax in float32.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk: int):
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
        needs_grad = ctx.needs_input_grad[0]
        out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        jacobian = torch.empty(hidden.shape, dtype=dtype, device=hidden.device) if needs_grad else None
        with torch.autocast(device, enabled=False):
            w, b, h = weight.to(dtype), None if bias is None else bias.to(dtype), hidden.to(dtype)
            for start in range(0, hidden.shape[0], chunk):
                sl = slice(start, start + chunk)
                logits = torch.nn.functional.linear(h[sl], w, b).float()  # (n, V)
                lse = logits.logsumexp(-1)
                out[sl] = logits.gather(-1, targets[sl, None]).squeeze(-1) - lse
                if needs_grad:
                    minus = logits.sub_(lse[:, None]).exp_()  # softmax, in place of the logits
                    minus.scatter_add_(-1, targets[sl, None], minus.new_full((minus.shape[0], 1), -1.0))
                    jacobian[sl] = (minus.to(dtype) @ w).neg_()  # (onehot - softmax) W
        ctx.save_for_backward(jacobian)
        ctx.hidden_dtype = hidden.dtype
        return out

    @staticmethod
    def backward(ctx, grad):  # (N,) -> (N, H)
        (jacobian,) = ctx.saved_tensors
        return (grad[:, None] * jacobian.float()).to(ctx.hidden_dtype), None, None, None, None


def _chunked_token_logps(logits_of: Callable[[slice], torch.Tensor], targets: torch.Tensor,
                         chunk: int) -> torch.Tensor:
    """(N,) float32 log-probs of `targets`; logits_of(slice) returns the (n, V) logits of those positions."""
    def piece(sl: slice) -> torch.Tensor:
        logits = logits_of(sl).float()
        return logits.gather(-1, targets[sl, None]).squeeze(-1) - logits.logsumexp(-1)

    parts = []
    for start in range(0, targets.shape[0], chunk):
        sl = slice(start, start + chunk)
        parts.append(checkpoint(piece, sl, use_reentrant=False) if torch.is_grad_enabled() else piece(sl))
    return torch.cat(parts) if parts else targets.new_zeros(0, dtype=torch.float32)


def _reduce(token_logps: torch.Tensor, rows: torch.Tensor, batch: int) -> SequenceLogps:
    total = torch.zeros(batch, dtype=torch.float32, device=token_logps.device).index_add(0, rows, token_logps)
    count = torch.bincount(rows, minlength=batch).to(torch.float32)
    return SequenceLogps(total, total / count.clamp(min=1), count)


def _default_chunk(vocab: int) -> int:
    return max(1, CHUNK_BYTES // (4 * vocab))
