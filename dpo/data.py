"""Preference pairs: reading, validating, tokenizing through the chat template, and batching.

The only place that tokenizes preference pairs. A pair file is JSONL, one object a line:
  {"prompt": str | [{"role": ..., "content": ...}, ...], "chosen": str, "rejected": str,
   "id": str (optional), "system": str (optional), "meta": dict (optional),
   "confidence": float in (0.5, 1] (optional: the probability that chosen is preferred, e.g. the share of
                 raters who agree; dpo/loss.py makes it per-pair label smoothing, eps = 1 - confidence)}

A tokenized sequence is prompt_ids + response_ids, where prompt_ids is the chat template applied to the
prompt with the generation prompt, and response_ids is the response followed by the end-of-turn token
exactly once. labels equal input_ids on the response and IGNORE_INDEX on the prompt.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import torch

from .files import atomic_write
IGNORE_INDEX = -100


class DataError(ValueError):
    """Bad input data; the message names the file and line."""


@dataclass
class PreferencePair:
    prompt: str | list[dict]
    chosen: str
    rejected: str
    id: str = ""
    system: str | None = None
    meta: dict = field(default_factory=dict)
    confidence: float | None = None  # None: a hard label, the same as 1.0

    def to_json(self) -> dict:
        out: dict[str, Any] = {"id": self.id, "prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}
        if self.system is not None:
            out["system"] = self.system
        if self.meta:
            out["meta"] = self.meta
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


# ----------------------------------------------------------------------------- reading and writing

def check_prompt(prompt: Any, where: str) -> None:
    """A prompt is a non-empty string or a non-empty list of {"role": str, "content": str} messages."""
    if isinstance(prompt, list):
        for i, msg in enumerate(prompt):
            if not (isinstance(msg, dict) and isinstance(msg.get("role"), str) and isinstance(msg.get("content"), str)):
                raise DataError(f"{where}: field 'prompt' message {i} must be an object with string 'role' and 'content'")
        if not prompt:
            raise DataError(f"{where}: field 'prompt' is an empty list of messages")
    elif not isinstance(prompt, str):
        raise DataError(f"{where}: field 'prompt' must be a string or a list of messages, got {type(prompt).__name__}")
    elif not prompt.strip():
        raise DataError(f"{where}: field 'prompt' is empty")


def parse_pair(obj: Any, where: str) -> PreferencePair:
    """Validate one decoded JSON object; `where` ("file:line") prefixes every error."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("prompt", "chosen", "rejected"):
        if key not in obj:
            raise DataError(f"{where}: missing field '{key}'")
    check_prompt(obj["prompt"], where)
    for key in ("chosen", "rejected"):
        if not isinstance(obj[key], str):
            raise DataError(f"{where}: field '{key}' must be a string, got {type(obj[key]).__name__}")
        if not obj[key].strip():
            raise DataError(f"{where}: field '{key}' is an empty response")
    if obj["chosen"].strip() == obj["rejected"].strip():
        raise DataError(f"{where}: 'chosen' is identical to 'rejected'")
    for key, kind in (("id", str), ("system", str), ("meta", dict)):
        if key in obj and obj[key] is not None and not isinstance(obj[key], kind):
            raise DataError(f"{where}: field '{key}' must be a {kind.__name__}, got {type(obj[key]).__name__}")
    confidence = obj.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                   or not 0.5 < confidence <= 1):
        raise DataError(f"{where}: field 'confidence' must be a number in (0.5, 1], got {confidence!r}")
    return PreferencePair(prompt=obj["prompt"], chosen=obj["chosen"], rejected=obj["rejected"],
                          id=str(obj.get("id") or where), system=obj.get("system"), meta=obj.get("meta") or {},
                          confidence=None if confidence is None else float(confidence))


def jsonl_lines(path: str | os.PathLike, *, error: type[DataError] = DataError,
                what: str = "file") -> Iterator[tuple[str, int, str]]:
    """("file:line", line number, text) of each non-blank line; a missing file raises `error`."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such {what}")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield f"{path}:{lineno}", lineno, line


def parse_json(line: str, where: str, error: type[DataError] = DataError) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise error(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None


def read_pairs(path: str | os.PathLike, *, skip_invalid: bool = False) -> tuple[list[PreferencePair], list[str]]:
    """Read a pair file. Returns (pairs, errors); errors is non-empty only with skip_invalid=True,
    otherwise the first bad line raises DataError naming the file and line."""
    pairs, errors = [], []
    for where, _, line in jsonl_lines(path):
        try:
            pairs.append(parse_pair(parse_json(line, where), where))
        except DataError as e:
            if not skip_invalid:
                raise
            errors.append(str(e))
    if not pairs:
        raise DataError(f"{path}: no valid preference pairs")
    return pairs, errors


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write dicts as JSONL, atomically (a crash never leaves half a file)."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write(path, write)


def write_pairs(path: str | os.PathLike, pairs: Iterable[PreferencePair]) -> None:
    write_jsonl(path, (p.to_json() for p in pairs))


# ----------------------------------------------------------------------------- tokenizing

def messages_for(prompt: str | list[dict], system: str | None = None) -> list[dict]:
    """Chat messages for a prompt: a string becomes one user turn; `system` is prepended if given."""
    msgs = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system is not None and not (msgs and msgs[0]["role"] == "system"):
        msgs = [{"role": "system", "content": system}] + msgs
    return msgs


def encode_prompt(tokenizer, prompt: str | list[dict], system: str | None = None) -> list[int]:
    """Token ids of the chat template applied to the prompt, ending with the assistant header."""
    ids = tokenizer.apply_chat_template(messages_for(prompt, system), add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def end_of_turn_id(tokenizer) -> int:
    """The token that closes an assistant turn (ChatML: <|im_end|>, which is also eos)."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id and im_end is not None:
        return im_end
    return tokenizer.eos_token_id


def encode_response(tokenizer, response: str) -> list[int]:
    """Response ids followed by the end-of-turn token exactly once (no BOS, no doubled EOS)."""
    eot = end_of_turn_id(tokenizer)
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    while ids and ids[-1] == eot:
        ids = ids[:-1]
    return ids + [eot]


@dataclass(frozen=True)
class Truncation:
    """max_length bounds prompt + response; max_prompt_length bounds the prompt. A too-long prompt keeps
    its end (the question), a too-long response keeps its start. Whether the prompt is cut is decided once
    for all responses to it (cut_prompt), so they are all conditioned on the same prompt."""
    max_length: int = 512
    max_prompt_length: int = 256
    max_response_length: int = 0  # > 0: every response keeps at most this many tokens (equal token budgets)

    def __post_init__(self):
        if not 0 < self.max_prompt_length < self.max_length:
            raise ValueError(f"need 0 < max_prompt_length ({self.max_prompt_length}) < max_length ({self.max_length})")
        if self.max_response_length < 0:
            raise ValueError(f"max_response_length must be >= 0, got {self.max_response_length}")

    def response_room(self, prompt_len: int) -> int:
        """How many response tokens fit after a prompt of prompt_len tokens."""
        room = self.max_length - prompt_len
        return min(room, self.max_response_length) if self.max_response_length else room


def cut_prompt(prompt_ids: list[int], longest_response_len: int, trunc: Truncation) -> list[int]:
    """The prompt every response to it is scored with: its last max_prompt_length tokens if it is longer
    than that and prompt + the longest response exceed max_length, else unchanged. Deciding on the longest
    response (as TRL does) keeps chosen and rejected, or the options of an item, on the same prompt."""
    if trunc.max_response_length:
        longest_response_len = min(longest_response_len, trunc.max_response_length)
    if len(prompt_ids) + longest_response_len > trunc.max_length and len(prompt_ids) > trunc.max_prompt_length:
        return prompt_ids[-trunc.max_prompt_length:]
    return prompt_ids


def join(prompt_ids: list[int], response_ids: list[int], trunc: Truncation) -> tuple[list[int], list[int], bool]:
    """(input_ids, labels, truncated) for one prompt + response under the truncation rule. With several
    responses to one prompt, pass cut_prompt(prompt_ids, longest, trunc): join then cuts responses only."""
    kept = cut_prompt(prompt_ids, len(response_ids), trunc)
    response = response_ids[: trunc.response_room(len(kept))]
    truncated = len(kept) < len(prompt_ids) or len(response) < len(response_ids)
    return kept + response, [IGNORE_INDEX] * len(kept) + response, truncated


def tokenize_pair(tokenizer, pair: PreferencePair, trunc: Truncation) -> dict:
    """{"chosen_input_ids", "chosen_labels", "rejected_input_ids", "rejected_labels": list[int], "truncated": bool};
    both sides share one prompt, cut (if at all) for the longer response."""
    prompt_ids = encode_prompt(tokenizer, pair.prompt, pair.system)
    responses = {side: encode_response(tokenizer, getattr(pair, side)) for side in ("chosen", "rejected")}
    kept = cut_prompt(prompt_ids, max(map(len, responses.values())), trunc)
    out: dict[str, Any] = {"truncated": len(kept) < len(prompt_ids)}
    if pair.confidence is not None:
        out["confidence"] = pair.confidence
    for side, response_ids in responses.items():
        ids, labels, cut = join(kept, response_ids, trunc)
        out[f"{side}_input_ids"], out[f"{side}_labels"] = ids, labels
        out["truncated"] |= cut
    return out


@dataclass
class TokenizedPairs:
    """Tokenized pairs plus the counts that truncation must never hide."""
    examples: list[dict]
    ids: list[str]
    truncated: int = 0
    dropped: int = 0  # pairs whose chosen and rejected became identical after truncation (no preference left)


def tokenize_pairs(tokenizer, pairs: Sequence[PreferencePair], trunc: Truncation) -> TokenizedPairs:
    examples, ids, truncated, dropped = [], [], 0, 0
    for pair in pairs:
        ex = tokenize_pair(tokenizer, pair, trunc)
        if ex["chosen_input_ids"] == ex["rejected_input_ids"]:
            dropped += 1
            continue
        truncated += ex["truncated"]
        examples.append(ex)
        ids.append(pair.id)
    return TokenizedPairs(examples, ids, truncated, dropped)


# ----------------------------------------------------------------------------- batching

def pad(seqs: Sequence[Sequence[int]], value: int, length: int | None = None) -> torch.Tensor:
    """Right-pad lists of ids to `length` (default: the longest) -> (B, T) long tensor."""
    length = length or max(len(s) for s in seqs)
    out = torch.full((len(seqs), length), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate(examples: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Batch tokenized pairs, padded to the longest sequence of the batch (chosen and rejected alike,
    so they can be concatenated): chosen_/rejected_ input_ids, attention_mask, labels, each (B, T);
    and, when any pair has one, confidence (B,) float32 (1.0 for pairs without)."""
    length = max(len(ex[f"{s}_input_ids"]) for ex in examples for s in ("chosen", "rejected"))
    batch = {}
    for s in ("chosen", "rejected"):
        batch[f"{s}_input_ids"] = pad([ex[f"{s}_input_ids"] for ex in examples], pad_id, length)
        batch[f"{s}_attention_mask"] = pad([[1] * len(ex[f"{s}_input_ids"]) for ex in examples], 0, length)
        batch[f"{s}_labels"] = pad([ex[f"{s}_labels"] for ex in examples], IGNORE_INDEX, length)
    if any("confidence" in ex for ex in examples):
        batch["confidence"] = torch.tensor([ex.get("confidence", 1.0) for ex in examples], dtype=torch.float32)
    return batch


@dataclass
class PackedPairs:
    """B tokenized pairs in one row, without padding, each pair's shared prefix stored (and computed) once.

    Pair i takes shared[i] + chosen[i] + rejected[i] consecutive positions: the longest common prefix of its
    chosen and rejected input ids (the prompt at least), then the rest of chosen, then the rest of rejected.
    Position ids restart at 0 for each pair and the rejected tail continues from the shared prefix, as in
    the rejected sequence alone; dpo.attention keeps the rejected tail from attending to the chosen tail, so
    every position sees what it sees in its own sequence.
      input_ids, position_ids: (1, T), T = sum of all parts
      index: (N,) row positions whose next-token distribution is scored; target: (N,) the token each predicts
      sequence: (N,) which sequence each scores: i for pair i's chosen, B + i for its rejected
      confidence: (B,) float32 when any pair has one (1.0 for pairs without), as in collate; else None
    """
    input_ids: torch.Tensor
    position_ids: torch.Tensor
    index: torch.Tensor
    target: torch.Tensor
    sequence: torch.Tensor
    shared: tuple[int, ...]
    chosen: tuple[int, ...]
    rejected: tuple[int, ...]
    confidence: torch.Tensor | None = None

    @property
    def pairs(self) -> int:
        return len(self.shared)

    def to(self, device: torch.device | str) -> "PackedPairs":
        moved = {k: getattr(self, k).to(device) for k in ("input_ids", "position_ids", "index", "target", "sequence")}
        return PackedPairs(**moved, shared=self.shared, chosen=self.chosen, rejected=self.rejected,
                           confidence=None if self.confidence is None else self.confidence.to(device))


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two id lists."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def pack_pairs(examples: Sequence[dict]) -> PackedPairs:
    """The PackedPairs layout of tokenized pairs (dpo.data.tokenize_pairs(...).examples). Position t of a
    sequence is scored when labels[t + 1] != IGNORE_INDEX (it predicts that label), as in a padded batch."""
    n = len(examples)
    ids: list[int] = []
    positions: list[int] = []
    index, target, sequence = [], [], []
    shared, chosen, rejected = [], [], []
    for i, ex in enumerate(examples):
        c, r = ex["chosen_input_ids"], ex["rejected_input_ids"]
        s = common_prefix(c, r)
        start = len(ids)
        ids += c + r[s:]
        positions += list(range(len(c))) + list(range(s, len(r)))
        shared.append(s)
        chosen.append(len(c) - s)
        rejected.append(len(r) - s)
        for seq, labels, tail_offset in ((i, ex["chosen_labels"], 0), (n + i, ex["rejected_labels"], len(c) - s)):
            nxt = torch.tensor(labels[1:], dtype=torch.long)
            t = (nxt != IGNORE_INDEX).nonzero().squeeze(1)
            index.append(start + torch.where(t < s, t, t + tail_offset))
            target.append(nxt[t])
            sequence.append(torch.full_like(t, seq))
    return PackedPairs(input_ids=torch.tensor([ids], dtype=torch.long),
                       position_ids=torch.tensor([positions], dtype=torch.long),
                       index=torch.cat(index), target=torch.cat(target), sequence=torch.cat(sequence),
                       shared=tuple(shared), chosen=tuple(chosen), rejected=tuple(rejected),
                       confidence=torch.tensor([ex.get("confidence", 1.0) for ex in examples], dtype=torch.float32)
                       if any("confidence" in ex for ex in examples) else None)


def batch_order(lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int,
                group_by_length: bool = False) -> list[list[int]]:
    """Indices of each batch of one epoch, shuffled from (seed, epoch) so a resumed run sees the same order.
    With group_by_length, pairs of similar length share a batch (less padding) and the batches are shuffled."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        window = batch_size * 50  # sort inside large windows: similar lengths, still random across windows
        order = [i for w in range(0, len(order), window)
                 for i in sorted(order[w:w + window], key=lambda i: lengths[i])]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def iterate_batches(examples: Sequence[dict], batches: Iterable[list[int]], pad_id: int) -> Iterator[tuple[list[int], dict]]:
    for idx in batches:
        yield idx, collate([examples[i] for i in idx], pad_id)
