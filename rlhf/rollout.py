"""Rollouts: responses sampled from the policy with the batched KV-cache sampler (dpo.sampling), laid out for
RL, their per-token log-probs, and the pass over a rollout in shuffled minibatches that PPO and GRPO share.

Layout (right padding, like dpo.data): row b holds prompt_b + response_b, then padding. The response is the
sampled tokens followed by the end-of-turn token when the policy produced it within `max_new_tokens`
(`ended`); a response that ran out of tokens has none (the caller penalises it). Response position j of row
b is predicted by the hidden state at column prompt_lengths[b] - 1 + j; tensors over responses are (B, R),
R the longest response (at most max_new_tokens), with `mask` 1 on response tokens (end-of-turn included)
and 0 after.

Log-probs are temperature-corrected: log softmax(logits / T), the distribution the tokens were drawn from
(Huang et al. 2024), computed by a fresh forward of the policy (the sampler runs a bf16 copy). The head and
a float32 log-softmax run on chunks of rows (dpo.logprobs.CHUNK_BYTES of logits at a time), under
activation checkpointing when gradients are on, so the (B, R, V) logits never exist at once.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch.utils.checkpoint import checkpoint

from dpo import distributed
from dpo.config import TrainConfig
from dpo.data import PreferencePair, encode_prompt, end_of_turn_id
from dpo.logprobs import CHUNK_BYTES
from dpo.precision import autocast
from dpo.sampling import SamplingConfig, check_layout, generate_ids
from dpo.trainer import check_finite, optimizer_step

from .math import entropy_from_logits


@dataclass(frozen=True)
class Prompt:
    """A prompt as in a pair file, and its ids: chat template + assistant header, the last max_prompt_length
    tokens if longer (a long prompt keeps its end, the question, as in dpo.data)."""
    text: str | list[dict]
    system: str | None
    ids: tuple[int, ...]


def prompts_from_pairs(tokenizer, pairs: Sequence[PreferencePair], max_prompt_length: int) -> list[Prompt]:
    """The distinct prompts (with their system message) of preference pairs, in first-seen order."""
    seen: dict[str, Prompt] = {}
    for pair in pairs:
        key = json.dumps([pair.prompt, pair.system])
        if key not in seen:
            ids = encode_prompt(tokenizer, pair.prompt, pair.system)[-max_prompt_length:]
            seen[key] = Prompt(pair.prompt, pair.system, tuple(ids))
    return list(seen.values())


@dataclass
class Rollout:
    """B sampled responses. input_ids, attention_mask (B, T); prompt_lengths (B,); response (B, R) ids (pad
    after the end); mask (B, R) float; ended (B,) bool; prompts (B,) and completions (B,) texts, for reward
    functions."""
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_lengths: torch.Tensor
    response: torch.Tensor
    mask: torch.Tensor
    ended: torch.Tensor
    prompts: list
    completions: list[str]

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def select(self, rows: torch.Tensor) -> "Rollout":
        """The given rows, their padding columns trimmed."""
        width = int(self.attention_mask[rows].sum(-1).max())
        return Rollout(self.input_ids[rows, :width], self.attention_mask[rows, :width], self.prompt_lengths[rows],
                       self.response[rows], self.mask[rows], self.ended[rows],
                       [self.prompts[i] for i in rows.tolist()], [self.completions[i] for i in rows.tolist()])


def sample_rollout(model, tokenizer, prompts: Sequence[Prompt], *, max_new_tokens: int, temperature: float,
                   seed: int, precision: str, device: torch.device, rows: Sequence[int] | None = None) -> Rollout:
    """One response per prompt (repeat a prompt for several samples), drawn at `temperature` by
    dpo.sampling; row i uses the sampler's generator (seed, rows[i]) (rows: the rows' positions in the
    step's whole rollout, default 0, 1, ...), so a rollout depends only on the weights, the prompts and the
    seed (a resumed run draws the same responses, and the ranks' shards draw the single process's)."""
    pad_id, stop_id = tokenizer.pad_token_id, end_of_turn_id(tokenizer)
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    new = generate_ids(model, [list(p.ids) for p in prompts], cfg, pad_id=pad_id, stop_id=stop_id,
                       batch_size=max(1, len(prompts)), precision=precision, rows=rows)
    ended = [len(ids) < max_new_tokens for ids in new]
    responses = [ids + [stop_id] if end else ids for ids, end in zip(new, ended)]
    width, longest = max(len(p.ids) + len(r) for p, r in zip(prompts, responses)), max(map(len, responses))
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    response = torch.full((len(prompts), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), longest))
    for i, (p, r) in enumerate(zip(prompts, responses)):
        row = list(p.ids) + r
        input_ids[i, :len(row)] = torch.tensor(row)
        attention_mask[i, :len(row)] = 1
        response[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = 1.0
    return Rollout(input_ids.to(device), attention_mask.to(device),
                   torch.tensor([len(p.ids) for p in prompts], device=device), response.to(device), mask.to(device),
                   torch.tensor(ended, device=device), [p.text for p in prompts],
                   [tokenizer.decode(ids, skip_special_tokens=True) for ids in new])


def shard_prompts(prompts: Sequence[Prompt], samples: int = 1) -> tuple[list[Prompt], list[int], list[int]]:
    """This rank's part of a rollout of `samples` responses to each prompt, whole prompts (a GRPO group stays
    on one rank): (its prompts, each repeated `samples` times; their rows' positions in the whole rollout,
    prompt i's at i * samples ...; the positions it holds, [] for a stand-in shard (the first prompt, weight
    0) when there are fewer prompts than ranks). One process: everything."""
    idx, real = distributed.shard(range(len(prompts)))
    rows = [i * samples + k for i in idx for k in range(samples)]
    return [prompts[i] for i in idx for _ in range(samples)], rows, rows if real else []


def rank_sums(values: dict[str, torch.Tensor | float], real: bool, device: torch.device) -> dict[str, float]:
    """Each value (this rank's sum over its rows) summed over the ranks, in float64 and one all_reduce; a
    stand-in shard (real False) adds 0. One process: the values as floats."""
    summed = distributed.global_sum({k: torch.as_tensor(v, dtype=torch.float64, device=device) * float(real)
                                     for k, v in values.items()})
    return {k: float(v) for k, v in summed.items()}


@dataclass
class ResponseOutput:
    """Per response token (B, R): log-probs (with grad if enabled), entropy (detached) and values (or None)."""
    logps: torch.Tensor
    entropy: torch.Tensor
    values: torch.Tensor | None = None


def response_forward(model, rollout: Rollout, temperature: float,
                     value_head: torch.nn.Module | None = None) -> ResponseOutput:
    """Log-probs of the rollout's response tokens under log softmax(logits / temperature), their entropy, and
    the value head's estimate at the same positions. `model` is a Llama-layout causal LM."""
    check_layout(model)
    hidden = model.get_decoder()(input_ids=rollout.input_ids, attention_mask=rollout.attention_mask,
                                 use_cache=False).last_hidden_state  # (B, T, H)
    B, R = rollout.response.shape
    cols = (rollout.prompt_lengths[:, None] - 1 + torch.arange(R, device=hidden.device)).clamp(max=hidden.shape[1] - 1)
    h = hidden.gather(1, cols[..., None].expand(-1, -1, hidden.shape[-1]))  # (B, R, H)
    head = model.get_output_embeddings()

    def piece(rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        logits = head(h[rows]).float() / temperature  # (b, R, V)
        logps = logits.log_softmax(-1).gather(-1, rollout.response[rows, :, None]).squeeze(-1)
        return logps, entropy_from_logits(logits.detach())

    chunk = max(1, CHUNK_BYTES // (4 * R * head.out_features))
    parts = [checkpoint(piece, slice(s, s + chunk), use_reentrant=False) if torch.is_grad_enabled()
             else piece(slice(s, s + chunk)) for s in range(0, B, chunk)]
    mask = rollout.mask
    logps = torch.cat([p[0] for p in parts]) * mask
    entropy = torch.cat([p[1] for p in parts]) * mask
    values = value_head(h).squeeze(-1).float() * mask if value_head is not None else None
    return ResponseOutput(logps, entropy, values)


@torch.no_grad()
def response_forward_batched(model, rollout: Rollout, temperature: float, batch_size: int,
                             value_head: torch.nn.Module | None = None, *, device: torch.device,
                             precision: str) -> ResponseOutput:
    """response_forward without gradients, `batch_size` rows at a time."""
    outs = []
    for start in range(0, len(rollout), batch_size):
        rows = torch.arange(start, min(start + batch_size, len(rollout)), device=rollout.input_ids.device)
        with autocast(device, precision):
            outs.append(response_forward(model, rollout.select(rows), temperature, value_head))
    return ResponseOutput(torch.cat([o.logps for o in outs]), torch.cat([o.entropy for o in outs]),
                          torch.cat([o.values for o in outs]) if value_head is not None else None)


DEFAULT_PASSES = {"ppo": 4, "grpo": 1}  # Huang et al. 2024 / TRL; DeepSeekMath's single update per rollout


def passes(cfg: TrainConfig) -> int:
    """Passes over each rollout: cfg.ppo_epochs, or the algorithm's default when it is 0."""
    return cfg.ppo_epochs or DEFAULT_PASSES[cfg.algo]


def update_minibatches(n_rows: int, held: Sequence[int], row_tokens: torch.Tensor, cfg: TrainConfig, *, seed: int,
                       loss_fn: Callable[[torch.Tensor, dict], tuple[torch.Tensor, dict]], optimizer, scaler, params,
                       device: torch.device, run: distributed.Runner = distributed.single) -> dict:
    """passes(cfg) passes over a rollout of n_rows, each in cfg.minibatches shuffled minibatches (the order
    drawn from `seed` and the pass), one optimizer step per minibatch; a minibatch runs in cfg.grad_accum
    micro-batches, each loss weighted by its share of the minibatch's rows.

    This process holds the rollout rows at positions `held` (all of them in one process; under torchrun its
    shard, [] for a stand-in), row_tokens (held rows,) their response tokens. Each micro-batch's rows are
    looked up among its own: loss_fn(local rows, count) -> (loss, metrics), where count = {"rows", "tokens"}
    of the whole micro-batch (tokens summed over the ranks, one global_sum a minibatch) and the loss and
    metrics are this rank's parts of the micro-batch's means (its sums divided by count), so they add up
    over the ranks. Rank losses are weighted by N (DDP averages the gradients): the update is the single
    process's. A rank without rows in a micro-batch runs a stand-in row with weight 0, so every rank runs
    the same forwards and backwards. Returns the metrics averaged over the optimizer steps (skipped: their
    sum), the same on every rank."""
    world = distributed.world_size()
    position = {g: i for i, g in enumerate(held)}
    size = math.ceil(n_rows / cfg.minibatches)
    parts: dict[str, float] = {}  # this rank's parts of the micro-batch metrics, summed over the ranks at the end
    sums: dict[str, float] = {}  # optimizer_step's, the same on every rank
    updates = 0
    for epoch in range(passes(cfg)):
        order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for minibatch in order.split(size):
            micros = minibatch.split(math.ceil(len(minibatch) / cfg.grad_accum))
            mine = [[position[g] for g in micro.tolist() if g in position] for micro in micros]
            tokens = distributed.global_sum({str(k): row_tokens[rows].sum() for k, rows in enumerate(mine)})
            optimizer.zero_grad(set_to_none=True)
            for k, (micro, rows) in enumerate(zip(micros, mine)):
                local = torch.tensor(rows or [0], device=device)  # [0]: the stand-in row
                count = {"rows": len(micro), "tokens": tokens[str(k)]}
                weight = len(micro) / len(minibatch) if rows else 0.0
                with distributed.gradient_sync(run, sync=k == len(micros) - 1):
                    with autocast(device, cfg.precision):
                        loss, m = run(lambda: loss_fn(local, count))
                    check_finite(loss)
                    scaler.scale(loss * (weight * world)).backward()
                for key, v in m.items():
                    parts[key] = parts.get(key, 0.0) + float(v) * weight
            for key, v in optimizer_step(optimizer, scaler, params, cfg.max_grad_norm).items():
                sums[key] = sums.get(key, 0.0) + v
            updates += 1
    parts = rank_sums(parts, True, device)
    return {**{k: v / updates for k, v in parts.items()},
            **{k: v if k == "skipped" else v / updates for k, v in sums.items()}}
