"""Checks of the hand-written suites' properties (issue 12, data/eval/ format): what makes a suite measure the
argument of an option rather than its surface.

  python -m eval.suite_checks [FILE ...]        # default: data/eval/*.jsonl; prints every problem, exit 1 if any

Per choice item (compliance, fact, rigidity, bias): two options, token lengths matched (max/min <= MAX_RATIO
with the evaluated model's tokenizer), a rule named on both sides or neither, meta.author and meta.situation.
Per kind: the answer is the longer option in 35-65% of items and at index 0 in 40-60%; no cue rule
(eval.cues) scores outside 0.35-0.65. Counts: MIN_COUNTS items per kind (bias in items, two per pair), at
least 20 rigidity situations, 40-65% of compliance items in new domains, at least 10 verdict-swap items.
Bias: both items of a pair share the answer index; at least 3 first names per gender; 40-60% of pairs have
a justified "no" or a smaller award as the fair decision (meta.fair). Fact: false options overstate the law
about as often as they understate it (each at least a third of the two).
Overlap: no option shares more than MAX_OVERLAP of its word 8-grams (lowercased, numbers masked) with any
one training pair (prompt, chosen and rejected together).
"""
from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable, Sequence

from dpo.data import DataError
from eval.cues import RULES, cue_scores, names_rule
from eval.suites import Item, project_suites, read_suites

MAX_RATIO = 1.15
MIN_COUNTS = {"compliance": 120, "fact": 100, "rigidity": 80, "bias": 120}
MIN_RIGIDITY_SITUATIONS = 20
MIN_VERDICT_SWAP = 10
MIN_NAMES_PER_GENDER = 3
MAX_OVERLAP = 0.02
NGRAM = 8
CHOICE = ("compliance", "fact", "rigidity", "bias")
CAPITALISED = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w'’-]+")
PRONOUNS = frozenset("He She His Her Him Hers Mr Mrs Ms Herr Frau".split())


def share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def within(name: str, value: float, lo: float, hi: float) -> list[str]:
    return [] if lo <= value <= hi else [f"{name} is {value:.2f}, outside [{lo:.2f}, {hi:.2f}]"]


def item_problems(item: Item, count_tokens: Callable[[str], int]) -> list[str]:
    out = [f"meta.{k} is missing" for k in ("author", "situation") if not item.meta.get(k)]
    if item.kind not in CHOICE:
        return out
    if len(item.options) != 2:
        return out + [f"has {len(item.options)} options, not 2"]
    tokens = [count_tokens(o) for o in item.options]
    if max(tokens) / max(1, min(tokens)) > MAX_RATIO:
        out.append(f"token ratio {max(tokens) / max(1, min(tokens)):.2f} > {MAX_RATIO} ({tokens[0]} vs {tokens[1]})")
    cites = [names_rule(o) for o in item.options]
    if cites[0] != cites[1]:
        out.append(f"a rule is named on one side only (option {cites.index(True)})")
    return out


def pair_names(a: Item, b: Item) -> tuple[set[str], set[str]]:
    """The capitalised words in which two items of a pair differ (their names), meta.name when given."""
    words = [set(CAPITALISED.findall(i.prompt + " " + " ".join(i.options))) - PRONOUNS for i in (a, b)]
    return ({a.meta["name"]} if a.meta.get("name") else words[0] - words[1],
            {b.meta["name"]} if b.meta.get("name") else words[1] - words[0])


def balance_problems(kind: str, items: list[Item], count_tokens: Callable[[str], int]) -> list[str]:
    """The answer is the longer option in 35-65% of the two-option items, at index 0 in 40-60%, and no cue rule
    scores outside 0.35-0.65."""
    out = []
    choice = [i for i in items if len(i.options) == 2 and i.answer in (0, 1)]
    if kind in CHOICE and choice:
        longer = [count_tokens(i.options[i.answer]) > count_tokens(i.options[1 - i.answer]) for i in choice]
        out += within(f"{kind}: share of items whose answer is the longer option", share(longer), 0.35, 0.65)
        out += within(f"{kind}: share of items whose answer is at index 0", share([i.answer == 0 for i in choice]), 0.4, 0.6)
        scores = cue_scores(choice, count_tokens)
        for rule in RULES:
            values = list(scores[rule].values())
            out += within(f"{kind}: cue rule '{rule}' scores", sum(values) / len(values), 0.35, 0.65)
    return out


def kind_problems(kind: str, items: list[Item], count_tokens: Callable[[str], int]) -> list[str]:
    out = balance_problems(kind, items, count_tokens)
    if kind in MIN_COUNTS and len(items) < MIN_COUNTS[kind]:
        out.append(f"{kind}: {len(items)} items, need at least {MIN_COUNTS[kind]}")
    if kind == "rigidity":
        situations = {i.meta.get("situation") for i in items}
        if len(situations) < MIN_RIGIDITY_SITUATIONS:
            out.append(f"rigidity: {len(situations)} situations, need at least {MIN_RIGIDITY_SITUATIONS}")
    if kind == "compliance":
        out += within("compliance: share of items in new domains", share([bool(i.meta.get("new_domain")) for i in items]),
                      0.4, 0.65)
        swaps = sum(i.meta.get("control") == "verdict_swap" for i in items)
        if swaps < MIN_VERDICT_SWAP:
            out.append(f"compliance: {swaps} verdict-swap items, need at least {MIN_VERDICT_SWAP}")
    if kind == "fact":
        errors = Counter(i.meta.get("error") for i in items)
        over, under = errors["overstates"], errors["understates"]
        if min(over, under) < (over + under) / 3:
            out.append(f"fact: false options overstate {over} times and understate {under} times (unbalanced)")
    if kind == "bias":
        out += bias_problems(items)
    return out


def bias_problems(items: list[Item]) -> list[str]:
    out, names, fair = [], defaultdict(set), []
    pairs: dict[str, list[Item]] = defaultdict(list)
    for i in items:
        pairs[i.pair].append(i)
    for pair, members in pairs.items():
        if len({m.answer for m in members}) > 1:
            out.append(f"bias pair {pair!r}: the answer index differs between its items")
        fair.append(members[0].meta.get("fair") in ("no", "smaller"))
        for a in members:
            for b in members:
                if a.group != b.group:
                    na, _ = pair_names(a, b)
                    names[a.group].update(na)
    for group, found in sorted(names.items()):
        if len(found) < MIN_NAMES_PER_GENDER:
            out.append(f"bias: {len(found)} distinct names for group {group!r}, need at least {MIN_NAMES_PER_GENDER}")
    return out + within('bias: share of pairs whose fair decision is "no" or "smaller"', share(fair), 0.4, 0.6)


def suite_problems(items: Sequence[Item], count_tokens: Callable[[str], int]) -> list[str]:
    """Every problem of a set of suites: per item ("suite/id: ...") and per kind."""
    out = [f"{i.key}: {p}" for i in items for p in item_problems(i, count_tokens)]
    for kind in sorted({i.kind for i in items} | set(MIN_COUNTS)):
        out += kind_problems(kind, [i for i in items if i.kind == kind], count_tokens)
    return out


# ----------------------------------------------------------------------------- 8-gram overlap with training pairs

WORD = re.compile(r"\w+")


def grams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """Word n-grams, lowercased, every number masked as "<n>"."""
    words = ["<n>" if w.isdigit() else w for w in WORD.findall(re.sub(r"\d+(?:[.,]\d+)*", "0", text.lower()))]
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def overlap(options: dict[str, str], training: Iterable[str]) -> dict[str, float]:
    """{option key: the largest share of its 8-grams found in one training text} (0 for an option with none)."""
    own = {key: grams(text) for key, text in options.items()}
    index: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key, gs in own.items():
        for g in gs:
            index[g].append(key)
    best = dict.fromkeys(options, 0.0)
    for text in training:
        hits = Counter(key for g in grams(text) if g in index for key in index[g])
        for key, n in hits.items():
            best[key] = max(best[key], n / len(own[key]))
    return best


def option_texts(items: Sequence[Item]) -> dict[str, str]:
    return {f"{i.key}/option{k}": o for i in items for k, o in enumerate(i.options)}


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoTokenizer
    from dpo.models import prepare_embedded
    from eval.cues import token_counter
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])] or project_suites()
    tokenizer = AutoTokenizer.from_pretrained(prepare_embedded(), local_files_only=True)  # the evaluated model's
    try:
        items = read_suites(paths)
    except DataError as e:
        sys.exit(f"error: {e}")
    problems = suite_problems(items, token_counter(tokenizer))
    print("\n".join(problems) or "no problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
