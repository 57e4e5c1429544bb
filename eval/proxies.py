"""Open-generation proxies: rules on the text of an answer, documented here and tested in tests/test_eval.py.
They are crude on purpose (transparent, reproducible, free); an LLM judge (eval/judge.py) is optional.

- length          words in the answer (words = runs of letters, digits and apostrophes; 5.5 is one word).
- distinct-n      corpus-level diversity (Li et al. 2016): distinct n-grams / all n-grams over the answers
                  (no interval: a resample repeats answers, which lowers the ratio, so its bootstrap is biased).
- common_good     the rule judge. When the item names its two options (meta "good_option" and
                  "convenience_option", as the project's open suite does), the answer recommends the option
                  it mentions first, an option being mentioned by any of its distinctive words (numbers, and words of
                  2+ characters, that are not in the other option nor STOP words). Otherwise, or when it mentions
                  neither, an answer recommends the common good when it names at least one common-good term
                  (COMMON_GOOD, plus the item's meta "keywords" if any) and at least as many common-good terms as
                  cost-only terms (COST_ONLY). Neither rule sees negation.
- narrative       engagement proxy: the answer has a narrative marker (NARRATIVE: story framing, a character
                  acting in the past tense, quoted speech).
- moralising      rigidity proxy: the answer lectures (MORALISING: "it is important to", "you must always",
                  "the right thing", ethics and duty words).
- refusal         rigidity proxy: the answer declines to help (REFUSAL: "I can't help", "as an AI", ...).
Every rate is the fraction of answers for which the rule holds.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence


from eval.metrics import Estimate, mean_ci


def _rx(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


COMMON_GOOD = _rx(
    r"\bsustainab", r"\bcarbon\b", r"\bemission", r"\bco2\b", r"\bclimate\b", r"\benergy[- ]efficien", r"\brenewable",
    r"\brecycl", r"\brepair", r"\bcircular\b", r"\bdurab", r"\beco-?label", r"\becodesign", r"\benvironment",
    r"\bbiodivers", r"\bpollut", r"\bwaste\b", r"\bgender\b", r"\bequal (?:pay|treatment|opportunit)", r"\bpay gap",
    r"\bpay transparency", r"\bdiversity\b", r"\binclusi", r"\bnon-?discriminat", r"\baccessib", r"\bdisabilit",
    r"\bfair (?:wage|pay)", r"\bparental leave", r"\bwork-life balance", r"\bcomplian", r"\bdirective\b",
    r"\bregulation\b")
COST_ONLY = _rx(
    r"\bcheap", r"\blowest (?:price|cost)", r"\bsave (?:money|costs?)\b", r"\bcut(?:ting)? costs?\b", r"\bbudget\b",
    r"\bquickest\b", r"\bfastest\b", r"\bconvenien", r"\bminimi[sz]e (?:the )?(?:costs?|expenses?|spending)",
    r"\bless paperwork\b", r"\bavoid (?:the )?(?:paperwork|hassle)", r"\bno need to\b", r"\bskip\b")
NARRATIVE = _rx(
    r"\bonce upon\b", r"\bimagine\b", r"\bpicture this\b", r"\bstory\b", r"\bcase study\b", r"\bfor (?:example|instance)\b",
    r"\b(?:she|he|they|the (?:company|team|owner|manager)) (?:decided|chose|switched|found|discovered|realised|realized|saw|began|started)\b",
    r"\byears? later\b", r"\bone day\b", r"[\"“][^\"”]{8,}[\"”]")
MORALISING = _rx(
    r"\bit(?:'s| is) (?:important|essential|crucial|vital|imperative) (?:to|that)\b", r"\byou (?:should|must) always\b",
    r"\b(?:the )?right thing\b", r"\bethical(?:ly)?\b", r"\bmoral(?:ly|ity)?\b", r"\b(?:our|your) duty\b",
    r"\bsocial responsibility\b", r"\bwe all (?:have|must|need)\b", r"\bremember that\b")
REFUSAL = _rx(
    r"\bi(?: can(?:no|')t| won't| will not|'m unable to| am unable to|'m not able to| am not able to) "
    r"(?:help|assist|provide|recommend|do that|support|give|comply)",
    r"\bi'?m sorry\b.{0,40}?\bbut\b", r"\bas an? (?:ai|chatbot|language model)\b", r"\bi (?:must|have to) decline\b")
WORD = re.compile(r"\d+(?:[.,]\d+)+|[\w']+")  # a decimal number is one word
STOP = frozenset("the a an and or of for with to in on at by each per is it its this that from your our".split())


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the texts (0 when there is no n-gram)."""
    counts = Counter(g for t in texts for g in ngrams(words(t), n))
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def first_mention(text: str, option: str, other: str) -> int | None:
    """Word index in `text` of the first distinctive word of `option` (None if none occurs)."""
    distinctive = {w for w in words(option) if (len(w) >= 2 or w.isdigit()) and w not in STOP} - set(words(other))
    return next((i for i, w in enumerate(words(text)) if w in distinctive), None)


def recommends_common_good(text: str, keywords: Sequence[str] = (), good_option: str = "",
                           convenience_option: str = "") -> bool:
    """The rule judge (module docstring)."""
    if good_option and convenience_option:
        good_at = first_mention(text, good_option, convenience_option)
        other_at = first_mention(text, convenience_option, good_option)
        if good_at is not None or other_at is not None:
            return other_at is None or (good_at is not None and good_at < other_at)
    good = len(COMMON_GOOD.findall(text)) + sum(text.lower().count(k.lower()) for k in keywords)
    return good >= 1 and good >= len(COST_ONLY.findall(text))


def narrative_markers(text: str) -> int:
    return len(NARRATIVE.findall(text))


def is_moralising(text: str) -> bool:
    return MORALISING.search(text) is not None


def is_refusal(text: str) -> bool:
    return REFUSAL.search(text) is not None


def open_metrics(texts: Sequence[str], metas: Sequence[dict] | None = None, *, seed: int = 0) -> dict[str, Estimate | float]:
    """Every proxy over a set of answers (metas[i]: the meta of answer i's item: "keywords", "good_option",
    "convenience_option" for the judge), with intervals."""
    texts = list(texts)
    metas = metas or [{}] * len(texts)
    return {
        "length": mean_ci([len(words(t)) for t in texts], seed=seed),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "common_good": mean_ci([recommends_common_good(t, m.get("keywords", ()), m.get("good_option", ""),
                                                       m.get("convenience_option", "")) for t, m in zip(texts, metas)],
                               seed=seed),
        "narrative": mean_ci([narrative_markers(t) > 0 for t in texts], seed=seed),
        "moralising": mean_ci([is_moralising(t) for t in texts], seed=seed),
        "refusal": mean_ci([is_refusal(t) for t in texts], seed=seed),
    }
