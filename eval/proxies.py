"""Open-generation proxies: rules on the text of an answer, documented here and tested in tests/test_eval_open.py.
What an answer recommends is judged elsewhere (eval.embedding, the forced choice after the answer, the
optional LLM judge); these are cheap descriptive rates.

- length          words in the answer (words = runs of letters, digits and apostrophes; 5.5 is one word).
- distinct-n      corpus-level diversity (Li et al. 2016): distinct n-grams / all n-grams over the answers
                  (no interval: a resample repeats answers, which lowers the ratio, so its bootstrap is biased).
- engagement, length-controlled: each is read on the first WINDOW words of an answer, so a longer answer
  has no more chances to score, and none is a word list (the legends prompts and templates share no word
  with them, so tuning on legends cannot score by repeating its template):
    asks           the answer asks the user something (a "?") within the window.
    specifics      numbers (prices, kWh, dates, days) per 100 words of the window: concrete advice.
- rigidity:
    moralising     the answer lectures (MORALISING: "it is important to", "you must always", duty and ethics words).
    refusal        the answer declines to help (REFUSAL: "I can't help", "as an AI", ...).
Every rate is over answers.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from eval.stats import Estimate, mean_ci

WINDOW = 150  # words read by the engagement proxies


def _rx(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


MORALISING = _rx(
    r"\bit(?:'s| is) (?:important|essential|crucial|vital|imperative) (?:to|that)\b", r"\byou (?:should|must) always\b",
    r"\b(?:the )?right thing\b", r"\bethical(?:ly)?\b", r"\bmoral(?:ly|ity)?\b", r"\b(?:our|your) duty\b",
    r"\bsocial responsibility\b", r"\bwe all (?:have|must|need)\b", r"\bremember that\b")
REFUSAL = _rx(
    r"\bi(?: can(?:no|')t| won't| will not|'m unable to| am unable to|'m not able to| am not able to) "
    r"(?:help|assist|provide|recommend|do that|support|give|comply)",
    r"\bi'?m sorry\b.{0,40}?\bbut\b", r"\bas an? (?:ai|chatbot|language model)\b", r"\bi (?:must|have to) decline\b")
WORD = re.compile(r"\d+(?:[.,]\d+)+|[\w']+")  # a decimal number is one word
NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")
QUESTION = re.compile(r"\?")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def window(text: str, n: int = WINDOW) -> str:
    """The text up to the end of its n-th word."""
    matches = list(WORD.finditer(text))
    return text if len(matches) <= n else text[:matches[n - 1].end()]


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the texts (0 when there is no n-gram)."""
    counts = Counter(g for t in texts for g in ngrams(words(t), n))
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def asks(text: str) -> bool:
    return QUESTION.search(window(text)) is not None


def specifics(text: str) -> float:
    """Numbers per 100 words in the first WINDOW words."""
    ws = words(window(text))
    return 100 * sum(bool(NUMBER.match(w)) for w in ws) / len(ws) if ws else 0.0


def is_moralising(text: str) -> bool:
    return MORALISING.search(text) is not None


def is_refusal(text: str) -> bool:
    return REFUSAL.search(text) is not None


def open_metrics(texts: Sequence[str], clusters: Sequence[str] | None = None, *, seed: int = 0) -> dict[str, Estimate | float]:
    """Every proxy over a set of answers, with (clustered) intervals."""
    texts = list(texts)
    def rate(values):
        return mean_ci([float(v) for v in values], clusters, seed=seed)
    return {"length": rate(len(words(t)) for t in texts), "distinct_1": distinct_n(texts, 1),
            "distinct_2": distinct_n(texts, 2), "asks": rate(asks(t) for t in texts),
            "specifics": rate(specifics(t) for t in texts), "moralising": rate(is_moralising(t) for t in texts),
            "refusal": rate(is_refusal(t) for t in texts)}
