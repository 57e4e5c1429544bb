"""Filters for generated legends and counter-legends. Each filter returns a Verdict (ok, reason, score); a text
is kept only if every filter passes, and a kept text carries every filter's score. The filters run cheapest
first and stop at the first failure (a rejected text needs only its reason).

  length     word count within [min_words, max_words]                       score: words
  language   English: the share of words that are common English stop words ("the", "and", "of"...) is at
             least `min_stopword_ratio`. English prose runs at 0.35-0.55; other languages and gibberish fall
             far below 0.15 because they share few of these words.                    score: stop-word ratio
  narrative  a story, not a refusal ("I'm sorry", "As an AI"...), not a list (share of lines that are bullets
             or numbered items <= max_list_lines), not a copy of any prompt turn, few-shot examples included
             (word 3-gram Jaccard with each <= max_prompt_copy), not looping (distinct word 3-grams / all
             3-grams >= min_distinct), at least `min_sentences` sentences of 3+ words     score: prompt copy
  names_rule the story names the regulation: its number, or every distinctive word of its short name
             ("Right to Repair Directive" -> right, repair), or covers its obligation: at least
             `min_obligation_overlap` of the obligation's content words appear     score: 1 if named, else overlap
  duplicate  word 3-gram Jaccard similarity with the kept texts <= max_similarity; an inverted index of
             3-grams finds the 20 kept texts sharing the most 3-grams, and only those are compared
                                                                                     score: max similarity
A counter-legend passes the same filters (against the kept counters) and one more, first:
  length_ratio  max(tokens, legend tokens) / min(...) <= max_length_ratio: the two sides of a pair have the
             same length, in either direction                                      score: the ratio

Early rejection (early()): while a text is being written, the local backend asks every few tokens whether it
can still pass; it is stopped at once when it cannot: a refusal (stays in the text), more than max_words
words, more repeated 3-grams than a text of max_words words may hold (repeats never decrease), or, from
`early_min_words` words on, a stop-word ratio below half of min_stopword_ratio (hopeless: English does not
recover from that). A text that reaches its token limit is cut to its last complete sentence
(whole_sentences) and judged like the others ("unfinished" if it has no complete sentence).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

STOP_WORDS = frozenset("""a about after all also an and any are as at be because been but by can could did do does for
from had has have he her his how i if in into is it its just more most my no not of on one only or other our out she so
some than that the their them then there these they this those to up was we were what when which who will with would
you your""".split())
GENERIC = frozenset({"eu", "directive", "regulation", "recast", "for", "and", "the", "of", "on", "to"})
REFUSAL = re.compile(r"\b(?:i'm sorry|i am sorry|i cannot|i can't|as an ai|i'm not able|i am unable|i apologi[sz]e)\b",
                     re.IGNORECASE)
SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s|$)")  # . ! ? (closing quotes, brackets), then a space or the end
LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s+", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9']+", re.IGNORECASE)


@dataclass(frozen=True)
class FilterConfig:
    min_words: int = 40
    max_words: int = 400
    min_obligation_overlap: float = 0.5
    min_sentences: int = 2
    max_list_lines: float = 0.3
    max_prompt_copy: float = 0.5
    min_distinct: float = 0.6
    min_stopword_ratio: float = 0.25
    max_similarity: float = 0.5
    max_length_ratio: float = 1.15
    early_min_words: int = 40


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str  # "ok" or why it was rejected (the key of the rejection counts)
    score: float


def whole_sentences(text: str) -> str:
    """The text up to the end of its last complete sentence ("" if it has none)."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    return text[:ends[-1]] if ends else ""


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    """The set of word n-grams of a text (its words if shorter than n)."""
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(max(1, len(w) - n + 1))} if w else set()


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


# ----------------------------------------------------------------------------- the filters

def length(text: str, cfg: FilterConfig) -> Verdict:
    n = len(words(text))
    if n < cfg.min_words:
        return Verdict(False, "too_short", n)
    if n > cfg.max_words:
        return Verdict(False, "too_long", n)
    return Verdict(True, "ok", n)


def names_rule(text: str, regulation: str, number: str, obligation: str, cfg: FilterConfig) -> Verdict:
    """Names the regulation (its number, or all distinctive words of its short name), or covers the obligation."""
    present = set(words(text))
    content = {w for w in words(obligation) if w not in STOP_WORDS and len(w) > 2}
    overlap = len(content & present) / len(content) if content else 0.0
    name_words = {w for w in words(regulation) if w not in GENERIC}
    number_words = " ".join(w for w in words(number) if w not in GENERIC)
    named = (bool(name_words) and name_words <= present) or (bool(number_words) and number_words in " ".join(words(text)))
    if named or overlap >= cfg.min_obligation_overlap:
        return Verdict(True, "ok", 1.0 if named else overlap)
    return Verdict(False, "rule_not_named", overlap)


def narrative(text: str, prompts: list[str], cfg: FilterConfig) -> Verdict:
    mine = shingles(text)
    copy = max((jaccard(mine, shingles(p)) for p in prompts), default=0.0)
    if REFUSAL.search(text):
        return Verdict(False, "refusal", copy)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and sum(bool(LIST_LINE.match(ln)) for ln in lines) / len(lines) > cfg.max_list_lines:
        return Verdict(False, "list", copy)
    if copy > cfg.max_prompt_copy:
        return Verdict(False, "copies_prompt", copy)
    w = words(text)
    if len(w) > 3 and len(mine) / (len(w) - 2) < cfg.min_distinct:
        return Verdict(False, "repetitive", copy)
    if len([s for s in re.split(r"[.!?]+", text) if len(words(s)) >= 3]) < cfg.min_sentences:
        return Verdict(False, "not_narrative", copy)
    return Verdict(True, "ok", copy)


def language(text: str, cfg: FilterConfig) -> Verdict:
    w = words(text)
    ratio = sum(x in STOP_WORDS for x in w) / len(w) if w else 0.0
    return Verdict(ratio >= cfg.min_stopword_ratio, "ok" if ratio >= cfg.min_stopword_ratio else "not_english", ratio)


class NearDuplicates:
    """Kept legends' 3-gram sets with an inverted index (3-gram -> kept legends that contain it)."""

    def __init__(self):
        self.sets: list[set] = []
        self.index: dict[tuple, list[int]] = {}

    def max_similarity(self, text: str) -> float:
        s = shingles(text)
        shared = Counter(i for g in s for i in self.index.get(g, ()))
        return max((jaccard(s, self.sets[i]) for i, _ in shared.most_common(20)), default=0.0)

    def add(self, text: str) -> None:
        s = shingles(text)
        for g in s:
            self.index.setdefault(g, []).append(len(self.sets))
        self.sets.append(s)


def duplicate(text: str, kept: NearDuplicates, cfg: FilterConfig) -> Verdict:
    sim = kept.max_similarity(text)
    return Verdict(sim <= cfg.max_similarity, "ok" if sim <= cfg.max_similarity else "near_duplicate", sim)


def length_ratio(tokens: int, legend_tokens: int, cfg: FilterConfig) -> Verdict:
    ratio = max(tokens, legend_tokens) / max(min(tokens, legend_tokens), 1)
    return Verdict(ratio <= cfg.max_length_ratio, "ok" if ratio <= cfg.max_length_ratio else "length_ratio", ratio)


# ----------------------------------------------------------------------------- all of them

def check(text: str, *, prompts: list[str], regulation: str, number: str, obligation: str, kept: NearDuplicates,
          cfg: FilterConfig) -> tuple[str, dict[str, float]]:
    """Run the filters cheapest first -> (reason, scores): ("ok", every filter's score) if all pass, else
    (the first failure's reason, the scores so far)."""
    scores: dict[str, float] = {}
    for name, verdict in (("length", lambda: length(text, cfg)), ("language", lambda: language(text, cfg)),
                          ("narrative", lambda: narrative(text, prompts, cfg)),
                          ("names_rule", lambda: names_rule(text, regulation, number, obligation, cfg)),
                          ("duplicate", lambda: duplicate(text, kept, cfg))):
        v = verdict()
        scores[name] = round(float(v.score), 4)
        if not v.ok:
            return v.reason, scores
    return "ok", scores


def check_counter(text: str, *, tokens: int, legend_tokens: int, prompts: list[str], regulation: str, number: str,
                  obligation: str, kept: NearDuplicates, cfg: FilterConfig) -> tuple[str, dict[str, float]]:
    """A counter-legend: its length against its legend's first, then the filters of check()."""
    v = length_ratio(tokens, legend_tokens, cfg)
    if not v.ok:
        return v.reason, {"length_ratio": round(v.score, 4)}
    reason, scores = check(text, prompts=prompts, regulation=regulation, number=number, obligation=obligation,
                           kept=kept, cfg=cfg)
    return reason, {"length_ratio": round(v.score, 4), **scores}


def early(text: str, cfg: FilterConfig) -> str | None:
    """The reason a text being written can no longer pass (see the module docstring), or None."""
    if REFUSAL.search(text):
        return "refusal"
    w = words(text)
    if len(w) > cfg.max_words:
        return "too_long"
    repeats = max(len(w) - 2, 0) - len(shingles(text)) if len(w) > 3 else 0
    if repeats > (1 - cfg.min_distinct) * (cfg.max_words - 2):
        return "repetitive"
    if len(w) >= cfg.early_min_words and sum(x in STOP_WORDS for x in w) / len(w) < cfg.min_stopword_ratio / 2:
        return "not_english"
    return None
