"""Cue controls: how well a surface rule that never reads the argument would score on each suite.

Each rule picks the option(s) with a surface property; its score on an item is the share of its picks that
is the answer (1 when it picks the answer alone, 1/m when the answer is among m tied picks, 0 otherwise),
so a rule that cannot tell the options apart scores 1/K, like a coin:
  longer           the option with the most tokens (the evaluated model's tokenizer)
  fewer_sentences  the option with the fewest sentences (split after . ! ?)
  names_rule       the option(s) naming a rule: Directive, Regulation, Act, GDPR, Article, or the name or
                   number of an instrument in data/regulations.json (no option or every option: a tie)
  more_digits      the option with the most digits
and, when the cue audit (exposure.audit, with scikit-learn) is installed, its trained classifier: the pairwise
bag-of-words logistic regression fitted on a strategy's training pairs (all words, and function words only),
picking the option it scores higher; what a model could learn from the training data's wording alone.
A suite whose cue scores sit near 0.5 cannot reward a model for learning the cue; a model's gain over the
base is then not explained by it. The report puts these rows under the models' rows.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from dpo.data import PreferencePair
from eval.suites import Item
from exposure.frames import sentences  # split after . ! ?, as the pair renderer counts them

REGULATIONS = Path(__file__).resolve().parents[1] / "data" / "regulations.json"
CITE_WORDS = re.compile(r"\b(?:Directive|Regulation|Act|GDPR|Article)\b")
RULES = ("longer", "fewer_sentences", "names_rule", "more_digits")


@lru_cache(maxsize=1)
def instrument_names() -> tuple[str, ...]:
    """Short names and numbers ("2024/1781") of the instruments in data/regulations.json."""
    regs = json.loads(REGULATIONS.read_text(encoding="utf-8"))["regulations"]
    return tuple(r["short_name"] for r in regs) + tuple(r["number"].replace("(EU) ", "") for r in regs)


def digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def names_rule(text: str) -> bool:
    return CITE_WORDS.search(text) is not None or any(n in text for n in instrument_names())


def pick_score(picks: Sequence[int], answer: int) -> float:
    """Share of the picked options that is the answer."""
    return (answer in picks) / len(picks)


def extremes(values: Sequence[float], largest: bool) -> list[int]:
    best = max(values) if largest else min(values)
    return [k for k, v in enumerate(values) if v == best]


def rule_picks(item: Item, count_tokens: Callable[[str], int]) -> dict[str, list[int]]:
    """The options each rule picks on one item."""
    named = [k for k, o in enumerate(item.options) if names_rule(o)]
    return {"longer": extremes([count_tokens(o) for o in item.options], True),
            "fewer_sentences": extremes([sentences(o) for o in item.options], False),
            "names_rule": named or list(range(len(item.options))),
            "more_digits": extremes([digits(o) for o in item.options], True)}


def cue_scores(items: Sequence[Item], count_tokens: Callable[[str], int]) -> dict[str, dict[str, float]]:
    """{rule: {item key: score}} over the items that have a correct option."""
    out: dict[str, dict[str, float]] = {rule: {} for rule in RULES}
    for item in items:
        if item.answer >= 0 and item.options:
            for rule, picks in rule_picks(item, count_tokens).items():
                out[rule][item.key] = pick_score(picks, item.answer)
    return out


def token_counter(tokenizer) -> Callable[[str], int]:
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def classifier_scores(items: Sequence[Item], training: dict[str, Sequence[PreferencePair]]) -> dict[str, dict[str, float]]:
    """{"bow_all (NAME)" and "bow_function_words (NAME)": {item key: score}} for each training pair set NAME, over
    the two-option items with a correct option; {} when the cue audit (exposure.audit, scikit-learn) is not installed."""
    try:
        from exposure.audit import FUNCTION_WORDS, bow_matrices, fit_pairwise, pairwise_accuracy
    except ImportError:
        return {}
    picked = [i for i in items if i.answer >= 0 and len(i.options) == 2]
    test = [(i.options[i.answer], i.options[1 - i.answer]) for i in picked]
    out: dict[str, dict[str, float]] = {}
    for name, pairs in training.items():
        train = [(p.chosen, p.rejected) for p in pairs]
        for label, vocabulary in (("bow_all", None), ("bow_function_words", FUNCTION_WORDS)):
            x_train, x_test, _ = bow_matrices(train, test, vocabulary)
            scores = pairwise_accuracy(fit_pairwise(x_train), x_test)
            out[f"{label} ({name})"] = {i.key: float(v) for i, v in zip(picked, scores)}
    return out
