"""Fast generation on the CPU: our own decode loop over the model's forward, with a KV cache, continuous
batching and shared prompt prefixes.

generate(model, tokenizer, prompts, max_new_tokens=..., temperature=0.0, top_p=1.0, seed=0,
         batch_size=16, precision="auto", system=None) -> list[str]
generate_ids(model, prompt_ids, cfg, pad_id=..., stop_id=...) -> list[list[int]]   (token ids in and out)
decode_stream(model, source, cfg, slots=..., pad_id=..., stop_id=...) -> iterator of Finished
    (the engine: requests are pulled from `source` whenever a row is free, so a caller can feed requests
    that depend on earlier results, e.g. a counter-legend once its legend has passed the filters)

Continuous batching. The batch has `slots` rows, each with its own slice of one pre-allocated KV cache
(B, H_kv, W, D) per layer. All rows write their next token at the same cache column (`length`), so one decode
step is one forward of a (B, 1) batch; a boolean mask `real` (B, W) says which columns belong to which row's
sequence. When a row finishes (end of turn, its token limit, or its `stop` callback), its slot is refilled at
the next step: the new prompt is prefilled on its own (a small batch of the newly admitted prompts,
left-padded), its keys and values are copied into the row's columns ending at `length`, and the row's other columns
are masked out (a row that is not refilled only masks its columns). Positions are per row (rotary is applied
before caching), so where a row's columns sit does not matter, only the mask. When `length` reaches the cache
width, every row's live columns are moved left together (they all end at `length`). Attention reads only
columns [lo, length), lo being the first column a live row still uses.

Shared prefixes. A request may declare that its first `prefix` ids are shared with other requests (e.g. the
few-shot turns of a chat): their keys and values are computed once and kept in a small LRU (PrefixCache);
a row refers to its prefix instead of holding a copy, and only the rest of its prompt is prefilled. At each
step the rows that share a prefix attend to it together (one attention call reads the prefix once for all
of them, attend_shared), and that attention is merged with the attention over each row's own columns by
their log-sum-exps (merge). The result is the same as attending over the whole prompt, up to float
rounding; on long few-shot prompts it saves most of the attention work, which then dominates a step.

Why it gives the same tokens as one-prompt-at-a-time decoding: each row attends only to its own columns and
its positions are its own; padding and other rows are masked out. Greedy decoding is therefore identical
(tests compare it with transformers' generate), and sampled decoding draws from the row's own
torch.Generator (one draw per token), so a prompt's sample does not depend on the batch size, the slot it
lands in, or the other prompts.

Other speed choices (bench/bench_generate.py measures them):
  - attention by PyTorch's fused CPU kernel, grouped-query heads folded into the query axis so keys and
    values are never repeated; only the last position goes through the LM head;
  - precision="bf16" (what "auto" gives where bf16 is native, dpo.precision) runs a bf16 copy of the weights
    (autocast would cast every weight at every step). The caller's model is never modified. LoRA-wrapped projections work unchanged,
    since the forward calls the modules;
  - at the end of the work (the source is empty), finished rows are dropped from the batch and the cache
    once fewer than COMPACT of the rows are live.

Sampling: temperature 0 is greedy (argmax). Otherwise softmax(logits / temperature), then the top-p
nucleus (found among the most likely tokens, without sorting the vocabulary unless a row needs it), then
one draw per row from that row's own generator.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from dpo.data import encode_prompt, end_of_turn_id
from dpo.models import eval_mode
from dpo.precision import resolve_precision

SUPPORTED = {"llama", "qwen2"}  # same layer layout: q/k/v/o projections, rotary, pre-norm, gated MLP
NUCLEUS_K = 512  # candidates searched for the top-p nucleus before a row falls back to a full sort
# PyTorch's fused CPU attention (flash-style); unlike F.scaled_dot_product_attention it returns the log-sum-exp
FUSED_ATTENTION = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
COMPACT = 0.75  # when nothing waits, drop finished rows once fewer than this fraction of the batch is live
CHECK_EVERY = 16  # a request's `stop` callback is asked every this many new tokens
PREFILL_TOKENS = 4096  # admission: at most this many (rows x padded prompt length) tokens in one prefill forward


@dataclass(frozen=True)
class SamplingConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass
class Request:
    """One prompt to decode.

    ids: the prompt's token ids (chat template applied). generator: its own random stream (sampling only).
    max_new_tokens: this request's limit (default: the config's); min_new_tokens: the end of turn cannot be
    drawn before this many new tokens (as transformers' min_new_tokens). prefix: the first `prefix` ids are
    shared with other requests and cached (0: none). stop(new_ids) -> bool: asked every CHECK_EVERY new
    tokens; True ends the row at once (e.g. a text that can no longer pass a filter). key: the caller's handle."""
    ids: list[int]
    generator: torch.Generator | None = None
    max_new_tokens: int | None = None
    min_new_tokens: int = 0
    prefix: int = 0
    stop: Callable[[list[int]], bool] | None = None
    key: Any = None


@dataclass
class Finished:
    request: Request
    tokens: list[int]  # new ids, end-of-turn excluded
    reason: str  # "end" (end of turn), "length" (its token limit), "stopped" (its stop callback)


# ----------------------------------------------------------------------------- choosing the next token

def nucleus(probs: torch.Tensor, top_p: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(B, V) probabilities -> per row (weights (K,), token ids (K,)): the row's nucleus, the smallest set of
    most likely tokens whose mass reaches top_p (the top token is always in), in descending order.
    Sorting the whole vocabulary is the slowest part of a CPU decode step, so the nucleus is sought in the
    NUCLEUS_K most likely tokens (one batched topk); only a row whose top NUCLEUS_K hold less than top_p has
    its whole vocabulary sorted. The result is exact either way."""
    if top_p >= 1.0:
        return [(p, torch.arange(p.shape[-1])) for p in probs]
    head, ids = probs.topk(min(NUCLEUS_K, probs.shape[-1]), dim=-1)
    rows = []
    for i, short in enumerate((head.sum(-1) < top_p).tolist()):
        h, t = probs[i].sort(descending=True) if short else (head[i], ids[i])
        keep = (h.cumsum(-1) - h) < top_p  # keep a token if the mass before it is < top_p
        rows.append((h[keep], t[keep]))
    return rows


def next_tokens(logits: torch.Tensor, cfg: SamplingConfig, generators: list[torch.Generator | None]) -> torch.Tensor:
    """(B, V) last-position logits -> (B,) token ids; row i draws from its nucleus with generators[i]."""
    if cfg.temperature == 0.0:
        return logits.argmax(-1)
    rows = nucleus((logits.float() / cfg.temperature).softmax(-1), cfg.top_p)
    return torch.cat([ids[torch.multinomial(w, 1, generator=g)] for (w, ids), g in zip(rows, generators)])


def row_generator(seed: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


# ----------------------------------------------------------------------------- the KV cache

@dataclass
class KVCache:
    """Pre-allocated keys and values, one (B, H_kv, W, D) pair per layer, and each row's shared prefix (or
    None). Every row's own sequence ends at column `length` (the next token of every row is written there);
    `real` (B, W) marks the columns that belong to each row (not padding, not a finished request's
    leftovers). Attention reads the row's prefix and its columns in [lo, length). Columns are zeroed when
    allocated: a masked column gets probability 0, and 0 * v must not meet a NaN in uninitialised memory."""
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    real: torch.Tensor
    prefixes: list["Prefix | None"]
    length: int = 0
    lo: int = 0

    @classmethod
    def allocate(cls, model, batch: int, width: int, dtype: torch.dtype) -> "KVCache":
        cfg = model.config
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        shape = (batch, cfg.num_key_value_heads, width, head_dim)
        layers = range(cfg.num_hidden_layers)
        return cls([torch.zeros(shape, dtype=dtype) for _ in layers], [torch.zeros(shape, dtype=dtype) for _ in layers],
                   torch.zeros((batch, width), dtype=torch.bool), [None] * batch)

    @property
    def width(self) -> int:
        return self.real.shape[1]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the given batch rows (a copy of the live part of the cache)."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        self.real = self.real.index_select(0, rows)
        self.prefixes = [self.prefixes[r] for r in rows.tolist()]

    def free(self, row: int) -> None:
        self.real[row] = False
        self.prefixes[row] = None

    def update_lo(self) -> None:
        used = self.real[:, :self.length].any(0).nonzero()
        self.lo = int(used[0]) if len(used) else self.length

    def make_room(self, left: int, right: int, slack: int) -> None:
        """Ensure length >= left (room to copy a prompt in before `length`) and length + right <= width, by
        moving every row's columns [lo, length) together (they all end at `length`) into a cache at least
        `slack` columns wider than needed."""
        if self.length >= left and self.length + right <= self.width:
            return
        span = self.length - self.lo
        new_length = max(span, left)
        width = max(self.width, new_length + right + slack)
        dest = slice(new_length - span, new_length)
        for store in (self.keys, self.values):
            for i, old in enumerate(store):
                new = torch.zeros((*old.shape[:2], width, old.shape[3]), dtype=old.dtype)
                new[:, :, dest] = old[:, :, self.lo:self.length]
                store[i] = new
        real = torch.zeros((self.real.shape[0], width), dtype=torch.bool)
        real[:, dest] = self.real[:, self.lo:self.length]
        self.real, self.length, self.lo = real, new_length, new_length - span

    def put(self, row: int, src: "KVCache", src_row: int) -> None:
        """Copy row `src_row` of `src` (columns [0, src.length), and its prefix) into `row`, ending at this
        cache's `length`; the row's other columns are masked out."""
        n, dest = src.length, slice(self.length - src.length, self.length)
        for mine, theirs in ((self.keys, src.keys), (self.values, src.values)):
            for a, b in zip(mine, theirs):
                a[row, :, dest] = b[src_row, :, :n]
        self.real[row] = False
        self.real[row, dest] = src.real[src_row, :n]
        self.prefixes[row] = src.prefixes[src_row]

    def prefix_groups(self) -> list[tuple["Prefix", torch.Tensor]]:
        """(prefix, the rows (R,) that share it) for each distinct prefix of the batch."""
        rows: dict[int, list[int]] = {}
        for i, p in enumerate(self.prefixes):
            if p is not None:
                rows.setdefault(id(p), []).append(i)
        return [(self.prefixes[r[0]], torch.tensor(r)) for r in rows.values()]


@dataclass
class Prefix:
    """Keys and values of a shared prompt prefix, (H_kv, P, D) per layer, computed at positions [0, P)."""
    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @property
    def length(self) -> int:
        return self.keys[0].shape[1]


class PrefixCache:
    """Keys and values of shared prompt prefixes, (H_kv, P, D) per layer, keyed by their token ids; the least
    recently used entry goes first when more than `size` are held."""

    def __init__(self, size: int = 32):
        self.size, self.entries = size, OrderedDict()

    def get(self, model, ids: list[int], dtype: torch.dtype) -> Prefix:
        key = tuple(ids)
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        cache = KVCache.allocate(model, 1, len(ids), dtype)
        cache.real[:] = True
        forward(model, torch.tensor([ids]), torch.arange(len(ids))[None], cache)
        entry = Prefix([k[0] for k in cache.keys], [v[0] for v in cache.values])
        self.entries[key] = entry
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return entry


# ----------------------------------------------------------------------------- the forward pass

def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
           scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T * scale + mask) v with grouped-query heads, and the log-sum-exp of those scores (to merge
    attentions over two sets of keys). q (B, H, Tq, D); k, v (B, H_kv, Tk, D); mask (B, 1, G*Tq, Tk) additive
    (0 or -inf, q's dtype; G = H / H_kv) or None -> (out (B, H, Tq, D), lse (B, H, Tq) float).
    The G query heads that read one key/value head (h // G, as transformers' repeat_kv pairs them) are folded
    into its query axis, (B, H_kv, G*Tq, D), so k and v are never repeated. The work is done by PyTorch's
    fused CPU attention kernel (the one F.scaled_dot_product_attention uses on the CPU, called directly
    because it also returns the log-sum-exp); it never materialises the (Tq, Tk) scores."""
    B, H, Tq, D = q.shape
    Hkv = k.shape[1]
    out, lse = FUSED_ATTENTION(q.reshape(B, Hkv, H // Hkv * Tq, D), k, v, attn_mask=mask, scale=scale)
    return out.reshape(B, H, Tq, D), lse.reshape(B, H, Tq)


def attend_shared(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of the queries of R rows to one prefix that they all see whole: q (R, H, Tq, D); k, v
    (H_kv, P, D) -> (out (R, H, Tq, D), lse (R, H, Tq) float). The rows are folded into the query axis,
    (1, H_kv, R*G*Tq, D), so the prefix is read once for the R rows, not once per row."""
    R, H, Tq, D = q.shape
    out, lse = attend(q.transpose(0, 1).reshape(1, H, R * Tq, D), k[None], v[None], None, scale)
    return (out.reshape(H, R, Tq, D).transpose(0, 1).reshape(R, H, Tq, D),
            lse.reshape(H, R, Tq).transpose(0, 1).reshape(R, H, Tq))


def merge(out: torch.Tensor, lse: torch.Tensor, out2: torch.Tensor, lse2: torch.Tensor) -> torch.Tensor:
    """Attention over keys A and B from the attention over each: with L = logaddexp(lse_A, lse_B),
    out = out_A exp(lse_A - L) + out_B exp(lse_B - L). out (R, H, T, D), lse (R, H, T)."""
    total = torch.logaddexp(lse, lse2)
    return (out.float() * (lse - total).exp()[..., None] + out2.float() * (lse2 - total).exp()[..., None]).to(out.dtype)


def forward(model, ids: torch.Tensor, positions: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Run ids (B, T) at positions (B, T) through a Llama-layout model, writing their keys and values to the
    cache at columns [cache.length, cache.length + T); returns the last position's logits (B, V).
    A query sees its row's prefix, if any, and the real keys in [cache.lo, its column] (and itself, so
    padding queries stay finite)."""
    body, (B, T), lo, start = model.model, ids.shape, cache.lo, cache.length
    groups = cache.prefix_groups()
    end = start + T
    cols = torch.arange(lo, end)
    causal = cols[None, :] <= cols[start - lo:, None]  # (T, end - lo)
    allowed = (causal & cache.real[:, None, lo:end]) | (cols[None, :] == cols[start - lo:, None])  # (B, T, end - lo)
    x = body.embed_tokens(ids)
    groups_per_head = model.config.num_attention_heads // model.config.num_key_value_heads
    mask = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill_(~allowed, float("-inf"))
    mask = mask.repeat(1, groups_per_head, 1)[:, None]  # (B, 1, G*T, end - lo): query g*T + t reads row t
    cos, sin = body.rotary_emb(x, positions)
    for i, (layer, k_cache, v_cache) in enumerate(zip(body.layers, cache.keys, cache.values)):
        attn = layer.self_attn
        h = layer.input_layernorm(x)
        q, k, v = (proj(h).view(B, T, -1, attn.head_dim).transpose(1, 2)
                   for proj in (attn.q_proj, attn.k_proj, attn.v_proj))
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k_cache[:, :, start:end], v_cache[:, :, start:end] = k, v
        o, lse = attend(q, k_cache[:, :, lo:end], v_cache[:, :, lo:end], mask, attn.scaling)
        for prefix, rows in groups:
            o2, lse2 = attend_shared(q[rows], prefix.keys[i], prefix.values[i], attn.scaling)
            o[rows] = merge(o[rows], lse[rows], o2, lse2)
        x = x + attn.o_proj(o.transpose(1, 2).reshape(B, T, -1))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    cache.length = end
    return model.lm_head(body.norm(x[:, -1]))


def check_layout(model) -> None:
    if getattr(model.config, "model_type", None) not in SUPPORTED:
        raise ValueError(f"dpo.sampling supports the Llama layer layout ({', '.join(sorted(SUPPORTED))}); "
                         f"got model_type {getattr(model.config, 'model_type', None)!r}")


# ----------------------------------------------------------------------------- admitting prompts

def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad ids -> (input_ids (B, T) long, real (B, T) bool)."""
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    real = torch.zeros((len(seqs), length), dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, length - len(s):] = torch.tensor(s, dtype=torch.long)
        real[i, length - len(s):] = True
    return ids, real


def prefill(model, requests: list[Request], prefixes: PrefixCache, *, pad_id: int,
            dtype: torch.dtype) -> tuple[KVCache, torch.Tensor]:
    """Prefill a group of prompts -> (their cache, last-position logits (B, V)). A request's shared prefix
    comes from (or goes to) `prefixes` and is referenced, not copied; the rest of each prompt is left-padded
    into the cache's columns, at positions that run on from the prefix."""
    shared = [min(r.prefix, len(r.ids) - 1) for r in requests]  # at least one id is prefilled: its logits are needed
    ids, real = left_pad([r.ids[p:] for r, p in zip(requests, shared)], pad_id)
    cache = KVCache.allocate(model, len(requests), ids.shape[1], dtype)
    cache.real[:] = real
    cache.prefixes = [prefixes.get(model, r.ids[:p], dtype) if p else None for r, p in zip(requests, shared)]
    positions = torch.tensor(shared)[:, None] + (real.long().cumsum(-1) - 1).clamp(min=0)
    return cache, forward(model, ids, positions, cache)


def prefill_groups(requests: list[Request], budget: int) -> Iterator[list[Request]]:
    """Consecutive groups whose rows x longest unshared prompt part stay within `budget` tokens."""
    group: list[Request] = []
    for r in requests:
        longest = max([len(x.ids) - x.prefix for x in group + [r]])
        if group and (len(group) + 1) * longest > budget:
            yield group
            group = []
        group.append(r)
    if group:
        yield group


# ----------------------------------------------------------------------------- the engine

def too_early(logits: torch.Tensor, requests: list[Request], made: list[int], stop_id: int) -> torch.Tensor:
    """(B, V) logits with the end of turn ruled out for the rows that have made fewer than their
    min_new_tokens (made[i]: row i's new tokens so far). Modifies and returns `logits`."""
    early = [i for i, (r, n) in enumerate(zip(requests, made)) if n < r.min_new_tokens]
    if early:
        logits[early, stop_id] = float("-inf")
    return logits


@dataclass
class _Row:
    request: Request
    limit: int
    tokens: list[int] = field(default_factory=list)

    @property
    def position(self) -> int:
        """The position of the row's latest token (the next step's input)."""
        return len(self.request.ids) + len(self.tokens) - 1


def decode_stream(model, source: Callable[[], Request | None], cfg: SamplingConfig, *, slots: int, pad_id: int,
                  stop_id: int, prefixes: PrefixCache | None = None) -> Iterator[Finished]:
    """Decode every request that `source()` gives, at most `slots` at a time, yielding each as it finishes.

    source() returns the next request, or None when none is waiting now; it is asked whenever a row is free,
    so the caller may make new requests while it consumes the results. The stream ends when no row is live
    and source() returns None. Finished requests come in the order they finish."""
    if slots < 1:
        raise ValueError(f"slots must be >= 1, got {slots}")
    dtype = next(model.parameters()).dtype
    prefixes = prefixes or PrefixCache()
    rows: list[_Row | None] = [None] * slots
    cache = KVCache.allocate(model, slots, 0, dtype)
    last = torch.full((slots,), pad_id, dtype=torch.long)  # each row's latest token, the next step's input

    def accept(j: int, token: int) -> Finished | None:
        """Take row j's new token; return the request's result if it has finished."""
        row = rows[j]
        reason = None
        if token == stop_id:
            reason = "end"
        else:
            row.tokens.append(token)
            last[j] = token
            n = len(row.tokens)
            if n >= row.limit:
                reason = "length"
            elif row.request.stop is not None and n % CHECK_EVERY == 0 and row.request.stop(row.tokens):
                reason = "stopped"
        if reason is None:
            return None
        rows[j] = None
        cache.free(j)
        return Finished(row.request, row.tokens, reason)

    while True:
        free = [j for j, r in enumerate(rows) if r is None]
        admitted: list[Request] = []
        while len(admitted) < len(free) and (request := source()) is not None:
            admitted.append(request)
        slots_iter = iter(free)
        for group in prefill_groups(admitted, PREFILL_TOKENS):
            small, logits = prefill(model, group, prefixes, pad_id=pad_id, dtype=dtype)
            cache.make_room(small.length, 1, slack=cfg.max_new_tokens)
            logits = too_early(logits, group, [0] * len(group), stop_id)
            tokens = next_tokens(logits, cfg, [r.generator for r in group])
            for i, (r, token) in enumerate(zip(group, tokens.tolist())):
                j = next(slots_iter)
                cache.put(j, small, i)
                rows[j] = _Row(r, r.max_new_tokens or cfg.max_new_tokens)
                done = accept(j, token)
                if done is not None:
                    yield done
            cache.update_lo()
        live = [j for j, r in enumerate(rows) if r is not None]
        if not live:
            if admitted:
                continue
            return
        if len(admitted) < len(free) and len(live) < COMPACT * len(rows):  # nothing waits: shrink the batch
            keep = torch.tensor(live)
            cache.select(keep)
            last = last[keep]
            rows = [rows[j] for j in live]
            live = list(range(len(rows)))
        cache.make_room(0, 1, slack=cfg.max_new_tokens)
        cache.real[live, cache.length] = True
        positions = torch.tensor([r.position if r is not None else 0 for r in rows])[:, None]
        logits = forward(model, last[:, None], positions, cache)
        requests = [rows[j].request for j in live]
        logits = too_early(logits[live], requests, [len(rows[j].tokens) for j in live], stop_id)
        tokens = next_tokens(logits, cfg, [r.generator for r in requests])
        for j, token in zip(live, tokens.tolist()):
            done = accept(j, token)
            if done is not None:
                yield done
        cache.update_lo()


# ----------------------------------------------------------------------------- the entry point

def inference_copy(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """The model itself for fp32; a copy with bf16/fp16 weights otherwise (the caller's model is untouched).
    "auto" resolves for the model's device."""
    precision = resolve_precision(precision, next(model.parameters()).device)
    if precision == "fp32" or next(model.parameters()).dtype != torch.float32:
        return model
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return copy.deepcopy(model).to(dtype)


@torch.inference_mode()
def generate_ids(model, prompt_ids: list[list[int]], cfg: SamplingConfig, *, pad_id: int, stop_id: int,
                 batch_size: int = 16, precision: str = "auto", progress=None,
                 rows: Sequence[int] | None = None) -> list[list[int]]:
    """New token ids for each tokenized prompt (stop_id excluded: a row shorter than cfg.max_new_tokens
    stopped on it), `batch_size` rows decoding at once (continuous batching). Row i draws from
    row_generator(cfg.seed, rows[i]) (rows default 0, 1, ...), so a prompt's sample depends on neither the
    batch size nor the other prompts, and a shard of a batch (its rows' global positions) draws the batch's
    samples. `progress` (optional) is called with 1 each time a prompt finishes."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(prompt_ids)), key=lambda i: len(prompt_ids[i]))  # similar lengths are admitted together
    rows = range(len(prompt_ids)) if rows is None else rows
    if len(rows) != len(prompt_ids):
        raise ValueError(f"{len(rows)} row positions for {len(prompt_ids)} prompts")
    queue = [Request(prompt_ids[i], row_generator(cfg.seed, rows[i]), key=i) for i in reversed(order)]
    check_layout(model)
    net = inference_copy(model, precision)
    out: list[list[int]] = [[] for _ in prompt_ids]
    with eval_mode(net):
        for done in decode_stream(net, lambda: queue.pop() if queue else None, cfg, slots=batch_size, pad_id=pad_id,
                                  stop_id=stop_id):
            out[done.request.key] = done.tokens
            if progress is not None:
                progress(1)
    return out


def generate(model, tokenizer, prompts: list[str | list[dict]], *, max_new_tokens: int, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0, batch_size: int = 16, precision: str = "auto",
             system: str | None = None, progress=None, rows: Sequence[int] | None = None) -> list[str]:
    """Decode a response for every prompt (chat template + assistant header, as in training) and return
    the texts in prompt order. `progress` (optional) is called with 1 each time a prompt finishes; `rows`:
    the prompts' positions in a larger list they are a shard of (their samplers' seeds, see generate_ids)."""
    cfg = SamplingConfig(max_new_tokens, temperature, top_p, seed)
    encoded = [encode_prompt(tokenizer, p, system) for p in prompts]
    new = generate_ids(model, encoded, cfg, pad_id=tokenizer.pad_token_id, stop_id=end_of_turn_id(tokenizer),
                       batch_size=batch_size, precision=precision, progress=progress, rows=rows)
    return [tokenizer.decode(ids, skip_special_tokens=True) for ids in new]
