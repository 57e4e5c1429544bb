"""Reference log-probs, computed once and cached on disk: the main speed lever of DPO with a frozen reference.

One inference-mode pass of the reference model (the base, before LoRA is injected) over all tokenized pairs,
in batches of similar length, packed where the model allows (no padding, each prompt computed once for
both responses: dpo.logprobs.batch_pairs), writes a safetensors file
    <cache_dir>/reference-<key[:24]>.safetensors
with tensors chosen_sum, chosen_mean, chosen_count, rejected_sum, rejected_mean, rejected_count (each (N,)).

The key is a SHA-256 of everything that changes the numbers: the context (the model's weights, buffers and
config, dpo.models.model_identity; the precision, the device type, the torch and transformers versions and
FORMAT_VERSION) and the token ids and labels of every example (so the tokenizer, chat template, data, max
lengths and truncation mode all enter through what they produce). The file's metadata holds the full key,
the context, one hash per example and a SHA-256 of its tensors; a file that cannot be read, or whose key,
checksum, shapes or token counts do not match, is reported and recomputed, never used.

Row reuse: on a miss, the rows of examples that an earlier file of the same context holds (matched by their
example hash, from files whose checksum holds) are taken from it, and only the other examples are computed:
another seed's sample of the same pairs, or a pair file that grew, costs only its new pairs.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from dpo import distributed
from dpo.data import IGNORE_INDEX
from dpo.files import atomic_write
from dpo.logprobs import SequenceLogps, batch_pairs, concatenated_forward
from dpo.lora import lora_layers
from dpo.models import eval_mode, model_identity
from dpo.precision import autocast, resolve_precision

FORMAT_VERSION = 2
_SIDES = ("chosen", "rejected")
_FIELDS = ("sum", "mean", "count")
_COLUMNS = tuple(f"{side}_{f}" for side in _SIDES for f in _FIELDS)  # the file's tensors, a row's values


@dataclass
class ReferenceLogps:
    """Reference log-probs of every example, in the order of `examples`; `path` is the cache file (or None)."""
    chosen: SequenceLogps
    rejected: SequenceLogps
    key: str
    path: Path | None = None
    from_cache: bool = False

    def select(self, indices: Sequence[int] | torch.Tensor) -> tuple[SequenceLogps, SequenceLogps]:
        """(chosen, rejected) of the examples at `indices` (a batch)."""
        return self.chosen.select(indices), self.rejected.select(indices)


def context_key(identity: str, precision: str, device: str | torch.device) -> str:
    """SHA-256 hex of what every row of a cache file shares: the model's identity (dpo.models.model_identity),
    precision, device type, library versions and format version."""
    import transformers
    return hashlib.sha256(json.dumps({"format": FORMAT_VERSION, "precision": precision, "model": identity,
                                      "device": torch.device(device).type, "torch": torch.__version__,
                                      "transformers": transformers.__version__}).encode()).hexdigest()


def example_hashes(examples: Sequence[dict]) -> list[str]:
    """Per example, a SHA-256 hex (32 characters) of its chosen and rejected token ids and labels."""
    return [hashlib.sha256(json.dumps([ex[f"{side}_{field}"] for side in _SIDES for field in ("input_ids", "labels")])
                           .encode()).hexdigest()[:32] for ex in examples]


def cache_key(context: str, hashes: Sequence[str]) -> str:
    """SHA-256 hex of the context (context_key) and the examples, in order (example_hashes)."""
    return hashlib.sha256((context + "".join(hashes)).encode()).hexdigest()


def cache_path(cache_dir: str | os.PathLike, key: str) -> Path:
    return Path(cache_dir) / f"reference-{key[:24]}.safetensors"


def reference_logps(model: torch.nn.Module, examples: Sequence[dict], *, pad_id: int,
                    cache_dir: str | os.PathLike | None, precision: str = "fp32", batch_size: int = 16,
                    device: str | torch.device = "cpu", identity: str | None = None) -> ReferenceLogps:
    """Reference log-probs of tokenized pairs (dpo.data.tokenize_pairs(...).examples): from the cache in
    `cache_dir` when a valid file for this key exists, else computed and cached (cache_dir=None: not cached).
    The model must already be on `device`; the returned tensors are on `device` too, ready for select().
    Under torchrun every rank calls it: rank 0 reads the cache and sends it to the others, or the ranks share
    the batches of the pass (compute_logps) and rank 0 writes the file."""
    precision = resolve_precision(precision, device)  # the key holds what runs
    if not examples:
        raise ValueError("reference_logps: no examples")
    if lora_layers(model):
        raise ValueError("reference_logps: the model has LoRA layers; compute reference log-probs on the base "
                         "model before inject_lora")
    context = context_key(identity or model_identity(model), precision, device)
    hashes = example_hashes(examples)
    key = cache_key(context, hashes)
    path = cache_path(cache_dir, key) if cache_dir is not None else None
    cached = None
    if path is not None and path.exists() and distributed.is_main():
        try:
            cached = _read(path, key, examples)
        except CacheError as e:
            print(f"reference cache {path} is unusable ({e}); recomputing", file=sys.stderr)
    cached = distributed.broadcast(cached)
    if cached is not None:
        chosen, rejected = cached
        return ReferenceLogps(chosen.to(device), rejected.to(device), key, path, from_cache=True)
    known = {}  # example index -> its row (_COLUMNS) from an earlier file of this context
    if path is not None and distributed.is_main():
        known = _known_rows(Path(cache_dir), context, hashes, examples)
        if known:
            print(f"reference log-probs: {len(known)} of {len(examples)} examples from earlier cache files",
                  file=sys.stderr)
    known = distributed.broadcast(known)
    missing = [i for i in range(len(examples)) if i not in known]
    table = torch.empty(len(examples), len(_COLUMNS))
    if missing:
        computed = _tensors(*compute_logps(model, [examples[i] for i in missing], pad_id=pad_id,
                                           precision=precision, batch_size=batch_size, device=device))
        table[missing] = _rows(computed)
    for i, row in known.items():
        table[i] = row
    chosen, rejected = _logps(dict(zip(_COLUMNS, table.T)))
    if path is not None and distributed.is_main():
        _write(path, key, context, hashes, chosen, rejected)
    return ReferenceLogps(chosen.to(device), rejected.to(device), key, path)


def compute_logps(model: torch.nn.Module, examples: Sequence[dict], *, pad_id: int, precision: str = "fp32",
                  batch_size: int = 16, device: str | torch.device = "cpu") -> tuple[SequenceLogps, SequenceLogps]:
    """(chosen, rejected) log-probs of every example (N,), in inference mode, returned in the order of
    `examples` on the CPU. Batches of similar length go longest first, so a batch_size too large for memory
    fails at once; each is packed when the model allows it (dpo.logprobs.batch_pairs: no padding, each
    prompt computed once). The results stay on the device until the end: no host sync per batch.
    Under torchrun rank r computes batches r, r + N, ... of the same batches, and every rank gets all of
    them back in order: the numbers are the single process's, bit for bit on the CPU."""
    order = sorted(range(len(examples)), key=lambda i: -max(len(examples[i][f"{s}_input_ids"]) for s in _SIDES))
    starts = range(0, len(order), batch_size)
    mine = {}
    with eval_mode(model):
        with torch.inference_mode(), autocast(device, precision):
            for b in tqdm(distributed.share(range(len(starts))), desc="reference log-probs",
                          unit="batch", file=sys.stderr, disable=not distributed.is_main()):
                batch = batch_pairs(model, [examples[i] for i in order[starts[b]:starts[b] + batch_size]], pad_id)
                mine[b] = concatenated_forward(model, batch)
    if distributed.active():  # to the CPU to travel; the single process keeps them on the device until the end
        mine = {b: tuple(logps.to("cpu") for logps in part) for b, part in mine.items()}
    parts = distributed.gather_in_order(mine, len(starts))
    position = torch.tensor(order)
    out = []
    for side in range(len(_SIDES)):
        fields = []
        for field in _FIELDS:
            values = torch.empty(len(examples), dtype=torch.float32)
            values[position] = torch.cat([getattr(part[side], field) for part in parts]).float().cpu()
            fields.append(values)
        out.append(SequenceLogps(*fields))
    return tuple(out)


# ----------------------------------------------------------------------------- cache file

class CacheError(ValueError):
    """A cache file that must not be used."""


def _rows(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N, len(_COLUMNS)) the examples' values, a row each."""
    return torch.stack([tensors[c] for c in _COLUMNS], dim=1)


def _logps(tensors: dict[str, torch.Tensor]) -> tuple[SequenceLogps, SequenceLogps]:
    """(chosen, rejected) from the tensors by name (_COLUMNS); the inverse of _tensors."""
    return tuple(SequenceLogps(*(tensors[f"{side}_{f}"].contiguous() for f in _FIELDS)) for side in _SIDES)


def _tensors(chosen: SequenceLogps, rejected: SequenceLogps) -> dict[str, torch.Tensor]:
    return {f"{side}_{f}": getattr(logps, f).contiguous() for side, logps in zip(_SIDES, (chosen, rejected))
            for f in _FIELDS}


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode() + tensors[name].numpy().tobytes())
    return h.hexdigest()


def _write(path: Path, key: str, context: str, hashes: Sequence[str], chosen: SequenceLogps,
           rejected: SequenceLogps) -> None:
    """Save to a temporary name in the same folder, then rename."""
    tensors = _tensors(chosen, rejected)
    metadata = {"key": key, "format_version": str(FORMAT_VERSION), "examples": str(len(chosen.sum)),
                "context": context, "hashes": json.dumps(list(hashes)), "checksum": _checksum(tensors)}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def _load(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, tensors) of a cache file whose tensors are well formed and match its checksum; else CacheError."""
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as e:  # safetensors raises its own error types on a truncated or damaged file
        raise CacheError(f"cannot read it: {type(e).__name__}: {e}") from e
    n = int(meta["examples"]) if str(meta.get("examples", "")).isdigit() else -1
    if set(tensors) != set(_COLUMNS) or any(t.shape != (n,) or t.dtype != torch.float32 for t in tensors.values()):
        raise CacheError("its tensors have the wrong names, shapes or dtypes")
    if meta.get("checksum") != _checksum(tensors):
        raise CacheError("its checksum does not match its contents")
    return meta, tensors


def _token_counts(examples: Sequence[dict], side: str) -> torch.Tensor:
    """(N,) the number of scored tokens of each example's `side` (its count field)."""
    return torch.tensor([sum(t != IGNORE_INDEX for t in ex[f"{side}_labels"][1:]) for ex in examples],
                        dtype=torch.float32)


def _read(path: Path, key: str, examples: Sequence[dict]) -> tuple[SequenceLogps, SequenceLogps]:
    """Load and check a cache file against the expected key and the examples; CacheError if anything is off."""
    meta, tensors = _load(path)
    if meta.get("key") != key:
        raise CacheError("its key does not match")
    if int(meta["examples"]) != len(examples):
        raise CacheError("its tensors have the wrong names, shapes or dtypes")
    for side in _SIDES:
        if not torch.equal(tensors[f"{side}_count"], _token_counts(examples, side)):
            raise CacheError(f"its {side} token counts do not match the examples")
    return _logps(tensors)


def _known_rows(cache_dir: Path, context: str, hashes: Sequence[str], examples: Sequence[dict]) -> dict[int, torch.Tensor]:
    """{example index: its row (_COLUMNS)} from the readable cache files of this context that hold an example
    with the same hash and token counts."""
    wanted = {h: i for i, h in enumerate(hashes)}
    counts = torch.stack([_token_counts(examples, side) for side in _SIDES], dim=1)
    known = {}
    for file in sorted(cache_dir.glob("reference-*.safetensors")):
        if len(known) == len(examples):
            break
        try:
            meta, tensors = _load(file)
        except CacheError:
            continue
        if meta.get("context") != context:
            continue
        table = _rows(tensors)
        stored_counts = torch.stack([tensors[f"{side}_count"] for side in _SIDES], dim=1)
        for row, h in enumerate(json.loads(meta.get("hashes", "[]"))):
            i = wanted.get(h)
            if i is not None and i not in known and torch.equal(stored_counts[row], counts[i]):
                known[i] = table[row]
    return known
