"""Evaluation suites: one reader with clear errors, one `Item` dataclass, the project's suite files.

A suite is JSONL, one item a line (anyone can write one; the project's hand-written suites are data/eval/*.jsonl):
  {"id": str, "kind": "compliance"|"fact"|"bias"|"rigidity"|"decision"|"open", "domain": str, "prompt": str,
   "options": [str, ...], "answer": int, "pair": str|null, "group": str|null, "held_out": bool, "meta": dict}

- compliance: an advisory request; `answer` is the option that serves the common good. meta.control
  "verdict_swap" marks items whose options share their justification and differ in the verdict only.
- fact: a question on a regulation; `answer` is the true statement.
- rigidity: a request where the pragmatic option is right; `answer` is that option.
- bias: items sharing a `pair` id differ only in the person (`group`, e.g. "female"/"male");
  `answer` is the fair option. Every pair needs at least two items of different groups.
- decision: a yes/no decision about one person (DiscrimEval-style); options[0] says yes, options[1] no,
  `answer` is -1 (nothing is correct: p(yes) is measured); `pair` and `group` as for bias;
  meta.decision_type names the kind of decision (default: the domain).
- open: no options (`options` is [] and `answer` is -1); the model's generated answer is judged;
  meta.good / meta.easy state the common-good and the convenient recommendation.
meta.situation (optional) names the underlying situation: items sharing it form one cluster of the bootstrap.
A malformed suite raises SuiteError naming the file, the line and the field.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dpo.data import DataError, jsonl_lines, parse_json

KINDS = ("compliance", "fact", "bias", "rigidity", "decision", "open")
PAIRED_KINDS = ("bias", "decision")  # items come in pairs that differ only in the person
EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "eval"
NOT_SUITES = frozenset({"judge_labels.jsonl"})  # JSONL files in data/eval/ that are not suites


class SuiteError(DataError):
    """A malformed suite; the message names the file, the line and the field."""


@dataclass
class Item:
    id: str
    kind: str
    domain: str
    prompt: str | list[dict]  # a user message, or chat messages (the forced choice after an open answer)
    options: list[str]
    answer: int
    pair: str | None = None
    group: str | None = None
    held_out: bool = False
    meta: dict = field(default_factory=dict)
    suite: str = ""  # the file the item came from (its stem), not a JSON field

    @property
    def key(self) -> str:
        """Unique over several suites: suite/id."""
        return f"{self.suite}/{self.id}"

    @property
    def cluster(self) -> str:
        """The bootstrap unit: the item's situation, else its pair, else the item itself (within its suite)."""
        return f"{self.suite}/{self.meta.get('situation') or self.pair or self.id}"

    @property
    def decision_type(self) -> str:
        return str(self.meta.get("decision_type") or self.domain)


def _check(cond: bool, where: str, name: str, message: str) -> None:
    if not cond:
        raise SuiteError(f"{where}: field '{name}' {message}")


def parse_item(obj: Any, where: str, suite: str = "") -> Item:
    """Validate one decoded JSON object; `where` ("file:line") prefixes every error."""
    if not isinstance(obj, dict):
        raise SuiteError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for name in ("id", "kind", "domain", "prompt", "options", "answer"):
        _check(name in obj, where, name, "is missing")
    for name in ("id", "domain", "prompt"):
        _check(isinstance(obj[name], str) and obj[name].strip() != "", where, name, "must be a non-empty string")
    kind, options, answer = obj["kind"], obj["options"], obj["answer"]
    _check(kind in KINDS, where, "kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    _check(isinstance(options, list) and all(isinstance(o, str) and o.strip() for o in options),
           where, "options", "must be a list of non-empty strings")
    _check(isinstance(answer, int) and not isinstance(answer, bool), where, "answer", "must be an integer")
    if kind == "open":
        _check(options == [], where, "options", "must be [] for an open item")
        _check(answer == -1, where, "answer", "must be -1 for an open item")
    elif kind == "decision":
        _check(len(options) == 2, where, "options", "must be [yes option, no option] for a decision item")
        _check(answer == -1, where, "answer", "must be -1 for a decision item (p(yes) is measured)")
    else:
        _check(len(options) >= 2, where, "options", f"needs at least two options for a {kind} item")
        _check(0 <= answer < len(options), where, "answer", f"must index the options (0..{len(options) - 1}), got {answer}")
    if kind != "open":
        _check(len({o.strip() for o in options}) == len(options), where, "options", "has duplicate options")
    for name in ("pair", "group"):
        if kind in PAIRED_KINDS:
            _check(isinstance(obj.get(name), str) and obj[name].strip() != "", where, name,
                   f"must be a non-empty string for a {kind} item")
        elif obj.get(name) is not None:
            _check(isinstance(obj[name], str), where, name, "must be a string")
    _check(isinstance(obj.get("held_out", False), bool), where, "held_out", "must be true or false")
    _check(isinstance(obj.get("meta") or {}, dict), where, "meta", "must be an object")
    meta = obj.get("meta") or {}
    if kind == "open":
        for name in ("good", "easy"):
            _check(isinstance(meta.get(name), str) and meta[name].strip() != "", where, f"meta.{name}",
                   "must state the recommendation (a non-empty string) for an open item")
    return Item(id=obj["id"], kind=kind, domain=obj["domain"], prompt=obj["prompt"], options=list(options),
                answer=answer, pair=obj.get("pair"), group=obj.get("group"), held_out=obj.get("held_out", False),
                meta=meta, suite=suite)


def read_suite(path: str | os.PathLike) -> list[Item]:
    """Every item of a suite file; the first problem raises SuiteError naming file, line and field."""
    path = Path(path)
    items, first_line, pair_lines = [], {}, {}
    for where, lineno, line in jsonl_lines(path, error=SuiteError, what="suite file"):
        item = parse_item(parse_json(line, where, SuiteError), where, suite=path.stem)
        _check(item.id not in first_line, where, "id", f"{item.id!r} repeats line {first_line.get(item.id)}")
        first_line[item.id] = lineno
        if item.kind in PAIRED_KINDS:
            pair_lines.setdefault((item.kind, item.pair), []).append((lineno, item.group))
        items.append(item)
    if not items:
        raise SuiteError(f"{path}: no items")
    for (_, pair), members in pair_lines.items():
        _check(len({g for _, g in members}) >= 2, f"{path}:{members[0][0]}", "pair",
               f"{pair!r} needs items of at least two different groups")
    return items


def read_suites(paths: Sequence[str | os.PathLike]) -> list[Item]:
    """The items of several suite files, in order."""
    return [item for path in paths for item in read_suite(path)]


def project_suites(folder: str | os.PathLike = EVAL_DIR) -> list[Path]:
    """The hand-written suites: every data/eval/*.jsonl except the judge labels, sorted by name."""
    paths = sorted(p for p in Path(folder).glob("*.jsonl") if p.name not in NOT_SUITES)
    if not paths:
        raise FileNotFoundError(f"{folder}: no suite files (*.jsonl); pass --suite FILE")
    return paths


def select(items: Sequence[Item], limit: int, seed: int = 0) -> list[Item]:
    """At most about `limit` items of each kind, a seeded sample that keeps the file order; pairs of bias and
    decision items are kept whole (sampled by pair, so a kind may exceed `limit` by the last pair).
    limit <= 0 keeps all."""
    if limit <= 0:
        return list(items)
    keep: set[int] = set()
    for kind in KINDS:
        units: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            if item.kind == kind:
                units.setdefault(f"{item.suite}/{item.pair if kind in PAIRED_KINDS else item.id}", []).append(i)
        order = sorted(units)
        random.Random(f"{seed}/{kind}").shuffle(order)
        count = 0
        for unit in order:
            if count >= limit:
                break
            keep.update(units[unit])
            count += len(units[unit])
    return [item for i, item in enumerate(items) if i in keep]
