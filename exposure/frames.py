"""Two arguments of one case rendered as two answers written as equals.

Both answers of a pair are built from the same material and differ only in which way they argue:
  facts      the case's figures (prices, kWh, CO2e, years, pay, dates), each stated from the answer's own option in
             one frame drawn per fact and pair (twin): "X costs €949, €400 dearer than Y" / "Y costs €549, €400 cheaper"
  verdict    "I would <own action> rather than <other action>"
  weighing   the two options' considerations, the answer's own put first: "<mine> counts for more than <theirs>"
  rule       the two readings of the obligation that governs the decision, the answer's own asserted and the other's
             rejected: the chosen side reads it correctly, the rejected side misreads it or argues it does not apply
  step       a practical next step, from one pool for both
Every frame comes from the same pool whichever side it serves, and each side names the other's action,
consideration and reading, so the two answers hold nearly the same words: what separates them is the direction
of the argument (which consideration outweighs which, which reading is right), not a style or a vocabulary.

An answer is its slots in an order drawn once per pair: verdict, facts (1..n), weighing (1..2), [rule], [step].
Each side is rendered several ways (how many facts and weighings, with or without a step, which frames); the pair
kept has SmolLM2 token lengths within MAX_RATIO, the longer side the one asked for (the builder alternates it), and
among those one within LONG_TOKENS if any, then the fewest differences in sentences and numbers. None qualifies -> None.
A plain side (no action: a factual question) is its facts, the first citing where asked.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

MAX_RATIO = 1.15
LONG_TOKENS = 160  # pairs longer than this are kept only when nothing shorter matches
MAX_FACTS = 3      # facts stated per answer at most

VERDICT = [
    "I would {action} rather than {alt}.",
    "My advice is to {action}, not to {alt}.",
    "In your position I would {action} and not {alt}.",
    "The better choice here is to {action} rather than {alt}.",
    "{Action}; I would not {alt}.",
    "On the facts you give, I would {action} rather than {alt}.",
]
VERDICT_LAST = [
    "So I would {action} rather than {alt}.",
    "All in all, my advice is to {action}, not to {alt}.",
    "That is why I would {action} and not {alt}.",
]
WEIGH = [
    "I would put {mine} ahead of {theirs}.",
    "More weight should go to {mine} than to {theirs}.",
    "The deciding factor is {mine} rather than {theirs}.",
    "Given the choice, I would value {mine} over {theirs}.",
    "{Mine} should count for more here than {theirs}.",
]
# the answer asserts its own reading and only attributes the other's, so the chosen answer never states a misreading
RULE = [
    "Some read the {cite} as if it {theirs}, but what matters here is that it {mine}.",
    "The {cite} {mine}; reading it as if it {theirs} misses the point for this choice.",
    "Under the {cite}, the point for you is that it {mine}, not the claim that it {theirs}.",
    "Legally, the relevant text is the {cite}: it {mine}, whatever the view that it {theirs}.",
]
STEP = [
    "Before you decide, {step}.",
    "One practical point: {step}.",
    "{Step}.",
    "As a next step, {step}.",
    "It also helps to {step}.",
]
PLAIN_CITE = [
    "{fact} That comes from the {cite}.",
    "{fact} The rule is in the {cite}.",
    "Under the {cite}, the short answer is this. {fact}",
]
ORDERS = [
    ("verdict", "facts", "weigh", "rule", "step"),
    ("verdict", "facts", "weigh", "rule", "step"),
    ("verdict", "weigh", "facts", "rule", "step"),
    ("verdict", "facts", "rule", "weigh", "step"),
    ("facts", "weigh", "rule", "verdict", "step"),
]


@dataclass
class Side:
    """One option as an answer presents it (clauses start lower-case unless they start with a name)."""
    option: str                 # noun phrase naming the option: "the fridge-freezer (class C) at €699"
    action: str                 # bare-infinitive verb phrase: "buy the fridge-freezer (class C)"; "" for a plain answer
    facts: list[str]            # the case's facts from this option's side (twins of the other side's), in order
    steps: list[str] = field(default_factory=list)  # imperative clauses (plain answers: unused)


@dataclass
class Argument:
    """Everything a pair is rendered from, oriented (chosen side, rejected side)."""
    chosen: Side
    rejected: Side
    weighs: list[tuple[str, str]]     # (chosen option's consideration, rejected option's): noun phrases
    readings: list[tuple[str, str]]   # (chosen side's reading, rejected side's reading): predicates of "the <cite>"


SPACES, LINE_BREAK = re.compile(r"[ \t]+"), re.compile(r" *\n *")
A_BEFORE_VOWEL = re.compile(r"\ba (?=(?!one\b|one-|[Ee]u)[aeioAEIO]|HR\b)")
NUMBER, SENTENCE_END = re.compile(r"\d+(?:[.,]\d+)*"), re.compile(r"(?<=[.!?])\s+")


@lru_cache(maxsize=1 << 16)  # a build tidies ~800k parts, most of them the same few thousand sentences
def tidy(text: str) -> str:
    """Collapse the gaps left by empty template fields and fix the article 'a' before a vowel sound ('an audit', 'an HR
    generalist'; 'a one-off', 'a European' stay)."""
    text = LINE_BREAK.sub("\n", SPACES.sub(" ", text))
    return A_BEFORE_VOWEL.sub("an ", text).strip()


class PartTokens:
    """Token count of sentences joined by single spaces, as the sum of each sentence's count (with its leading
    space after the first): exact for a byte-level BPE whose pre-tokenizer splits before ' word' and around
    punctuation, as SmolLM2's does; counts are cached, since renderings share most sentences."""

    def __init__(self, count_tokens: Callable[[str], int]):
        self.count_tokens, self.cache = count_tokens, {}

    def __call__(self, parts: list[str]) -> int:
        total = 0
        for i, part in enumerate(parts):
            key = " " + part if i else part
            if key not in self.cache:
                self.cache[key] = self.count_tokens(key)
            total += self.cache[key]
        return total


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def twin(rng: random.Random, frames: list[str], good: dict, easy: dict) -> tuple[str, str]:
    """One fact in one frame drawn for the pair, filled from each side's point of view: (good's, easy's).
    'Self' and 'Other' are the capitalised 'self' and 'other'."""
    frame = rng.choice(frames)
    fill = lambda d: frame.format(**d, Self=cap(d.get("self", "")), Other=cap(d.get("other", "")))  # noqa: E731
    return fill(good), fill(easy)


def numbers(text: str) -> int:
    return len(NUMBER.findall(text))


def sentences(text: str) -> int:
    return len([s for s in SENTENCE_END.split(text.strip()) if s])


def render(rng: random.Random, side: Side, other: Side, weighs: list[tuple[str, str]], reading: tuple[str, str],
           order: tuple[str, ...], n_facts: int, n_weigh: int, step: bool, cite: str | None) -> list[str]:
    """One answer for `side` against `other`, as its sentences: weighs (the first n_weigh are used) and the reading
    are (this side's, the other's)."""
    if not side.action:
        facts = side.facts[:n_facts]
        first = rng.choice(PLAIN_CITE).format(fact=facts[0], cite=cite) if cite else facts[0]
        return [tidy(p) for p in (first, *facts[1:])]
    parts = []
    for slot in order:
        if slot == "verdict":
            frame = rng.choice(VERDICT_LAST if order.index("verdict") > 0 else VERDICT)
            parts.append(frame.format(action=side.action, Action=cap(side.action), alt=other.action))
        elif slot == "facts":
            parts.extend(side.facts[:n_facts])
        elif slot == "weigh":
            for mine, theirs in weighs[:n_weigh]:
                parts.append(rng.choice(WEIGH).format(mine=mine, Mine=cap(mine), theirs=theirs))
        elif slot == "rule" and cite:
            mine, theirs = reading
            parts.append(rng.choice(RULE).format(cite=cite, mine=mine, theirs=theirs))
        elif slot == "step" and step:
            s = rng.choice(side.steps)
            parts.append(rng.choice(STEP).format(step=s, Step=cap(s)))
    return [tidy(p) for p in parts]


@dataclass
class Rendered:
    text: str
    tokens: int
    sents: int
    nums: int


def variants(rng: random.Random, side: Side, other: Side, weighs: list[tuple[str, str]], reading: tuple[str, str],
             order: tuple[str, ...], cite: str | None, count_tokens: PartTokens) -> list[Rendered]:
    shapes = ([(k, w, s) for k in range(1, min(MAX_FACTS, len(side.facts)) + 1) for w in range(1, min(2, len(weighs)) + 1)
               for s in (False, True)]
              if side.action else [(k, 0, False) for k in range(2, len(side.facts) + 1)])
    out = []
    for k, w, s in shapes:
        parts = render(rng, side, other, weighs, reading, order, k, w, s, cite)
        text = " ".join(parts)
        out.append(Rendered(text, count_tokens(parts), sentences(text), numbers(text)))
    return out


def render_pair(rng: random.Random, arg: Argument, *, cite: str | None, chosen_longer: bool,
                count_tokens: PartTokens) -> tuple[str, str] | None:
    """(chosen answer, rejected answer), both citing `cite` (or neither), token lengths within MAX_RATIO and the
    longer side as asked; None if no rendering qualifies."""
    order = rng.choice(ORDERS)  # the slot order, the weighings' order and the reading are the pair's, not a side's
    weighs = rng.sample(arg.weighs, len(arg.weighs))
    reading = rng.choice(arg.readings) if arg.readings else ("", "")
    cs = variants(rng, arg.chosen, arg.rejected, weighs, reading, order, cite, count_tokens)
    rs = variants(rng, arg.rejected, arg.chosen, [(b, a) for a, b in weighs], reading[::-1], order, cite, count_tokens)
    best, best_score = None, None
    for c in cs:
        for r in rs:
            if (c.tokens > r.tokens) != chosen_longer or c.tokens == r.tokens:
                continue
            if max(c.tokens, r.tokens) / min(c.tokens, r.tokens) > MAX_RATIO:
                continue
            score = (max(c.tokens, r.tokens) > LONG_TOKENS, abs(c.sents - r.sents) + 0.5 * abs(c.nums - r.nums), rng.random())
            if best_score is None or score < best_score:
                best, best_score = (c.text, r.text), score
    return best
