"""Cue audit of a preference-pair file: can the chosen answer be told apart without reading the argument?

  python -m exposure.audit FILE [--train FILE] [--json OUT]

For every group of pairs (all; per split; per split and domain; per split and kind, from each pair's meta) it
reports the accuracy of one-rule classifiers that pick, of chosen and rejected, the one with
  words     more whitespace-separated words
  tokens    more SmolLM2 tokens (the model's own tokenizer, prepared on first use)
  sents     more sentences
  cites     a regulation or article named ("Directive", "Regulation", "(EU) 2023/970", "Article 22", ...)
  nums      more numbers
  pos       the option listed first in the prompt (meta chosen_position, good_position or better_position: 1 | 2)
each as the better of the rule and its reverse, ties counting one half:
  acc = max(s, 1 - s),  s = mean_pairs [f(chosen) > f(rejected)] + 0.5 [f(chosen) = f(rejected)],
so 0.50 is no cue and 1.00 a perfect one. Then a pairwise bag-of-words logistic regression
  p(first is chosen | a, b) = sigmoid(w . (bow(a) - bow(b))),  no intercept, trained on both orders of every
  --train pair (without --train: 5-fold cross-validation on FILE), accuracy = [w . (bow(chosen) - bow(rejected)) > 0],
on all words (bow-all) and on FUNCTION_WORDS only (bow-func), the per-pair token length ratio max/min (mean, max,
share above 1.15) and the words with the largest weights for either side.

`audit(pairs, train_pairs) -> dict` and `format_table(dict) -> str` are what builders call; they write the table
into their manifest.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

from dpo.data import PreferencePair, read_pairs

__all__ = ["FUNCTION_WORDS", "audit", "format_table", "token_counter", "features"]

RULES = ("words", "tokens", "sents", "cites", "nums", "pos")
MAX_RATIO = 1.15

# A fixed list of English function words: articles, pronouns, prepositions, conjunctions, auxiliaries and modals
# (with their contractions), negation, quantifiers and common discourse adverbs. Content words never appear here.
FUNCTION_WORDS = tuple(sorted(set("""
a an the this that these those such
i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves one ones someone anyone everyone nobody something anything
everything nothing who whom whose which what whatever whoever where when why how
i'm i've i'd i'll we're we've we'd we'll you're you've you'd you'll he's she's it's it'd it'll they're they've
they'd they'll that's there's here's what's who's let's
about above across after against along among around as at before behind below beneath beside besides between beyond
by despite down during except for from in inside into like near of off on onto out outside over past per since
than through throughout till to toward towards under underneath unlike until up upon versus via with within without
and or but nor so yet both either neither whether if unless because although though while whereas once than
then therefore thus hence however otherwise instead also too even still already just only rather quite very
am is are was were be been being have has had having do does did doing done
will would shall should can could may might must ought need
isn't aren't wasn't weren't hasn't haven't hadn't don't doesn't didn't won't wouldn't shan't shouldn't can't
cannot couldn't mightn't mustn't needn't
not no nor never none
all any each every few many much more most less least several some enough other others another own same
here there now again ever always often sometimes soon later first last next
yes
""".split())))

_CITE = re.compile(r"\b(?:Directive|Regulation|Article|Art\.|Annex)\b|\(EU\)|\b(?:19|20)\d\d/\d+|\b\d+/(?:19|20)\d\d\b"
                   r"|\b(?:EC|EEC|EU)\s+No\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


# ----------------------------------------------------------------------------- features of one answer

def sentences(text: str) -> int:
    """Sentences: stretches of text ended by . ! ? (before a space or the end) or a line break."""
    return sum(1 for part in _SENTENCE_END.split(text) if re.search(r"\w", part))


def features(text: str, count_tokens: Callable[[str], int]) -> dict[str, float]:
    return {"words": len(text.split()), "tokens": count_tokens(text), "sents": sentences(text),
            "cites": 1.0 if _CITE.search(text) else 0.0, "nums": len(_NUMBER.findall(text))}


def words_of(text: str) -> list[str]:
    """Lower-case words with their contraction ('don't', 'it's'); curly apostrophes straightened."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def token_counter(cache_dir: str | None = None) -> Callable[[str], int]:
    """Number of SmolLM2 tokens of a text (no special tokens), from the embedded model's tokenizer.json."""
    from tokenizers import Tokenizer

    from dpo.models import prepare_embedded
    tok = Tokenizer.from_file(str(prepare_embedded(cache_dir) / "tokenizer.json"))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


# ----------------------------------------------------------------------------- classifiers

def rule_score(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """s = mean [c > r] + 0.5 [c = r]: how often 'pick the larger' picks chosen."""
    return sum(1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected)) / max(1, len(chosen))


def bow_matrices(train: list[tuple[str, str]], test: list[tuple[str, str]], vocabulary: Sequence[str] | None):
    """Count vectors of chosen - rejected for train and test pairs, over the train vocabulary (or the given one)."""
    from sklearn.feature_extraction.text import CountVectorizer
    vec = CountVectorizer(analyzer=words_of, vocabulary=list(vocabulary) if vocabulary else None)
    vec.fit([t for pair in train for t in pair] if vocabulary is None else [])
    diff = lambda pairs: vec.transform([c for c, _ in pairs]) - vec.transform([r for _, r in pairs])  # noqa: E731
    return diff(train), diff(test), vec.get_feature_names_out()


def fit_pairwise(x_train):
    """Logistic regression on both orders of each pair, no intercept (so order carries no information)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    x = sp.vstack([x_train, -x_train]).tocsr()
    y = np.r_[np.ones(x_train.shape[0]), np.zeros(x_train.shape[0])]
    return LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000).fit(x, y)


def pairwise_accuracy(model, x_test) -> list[float]:
    """Per test pair: 1 if the model scores chosen over rejected, 0.5 on a tie, else 0."""
    margin = x_test @ model.coef_[0]
    return [1.0 if m > 0 else 0.5 if m == 0 else 0.0 for m in margin]


def bow_scores(pairs: list[tuple[str, str]], train: list[tuple[str, str]] | None,
               vocabulary: Sequence[str] | None) -> tuple[list[float], list[tuple[str, float]]]:
    """(per-pair accuracy on `pairs`, [(word, weight)] of the model trained on `train`, or on 5 folds of `pairs`)."""
    if train is not None:
        x_train, x_test, names = bow_matrices(train, pairs, vocabulary)
        model = fit_pairwise(x_train)
        return pairwise_accuracy(model, x_test), list(zip(names, model.coef_[0]))
    folds = 5
    scores = [0.0] * len(pairs)
    for k in range(folds):
        test_idx = [i for i in range(len(pairs)) if i % folds == k]
        train_fold = [p for i, p in enumerate(pairs) if i % folds != k]
        x_train, x_test, names = bow_matrices(train_fold, [pairs[i] for i in test_idx], vocabulary)
        for i, s in zip(test_idx, pairwise_accuracy(fit_pairwise(x_train), x_test)):
            scores[i] = s
    x_all, _, names = bow_matrices(pairs, pairs[:1], vocabulary)
    return scores, list(zip(names, fit_pairwise(x_all).coef_[0]))


# ----------------------------------------------------------------------------- the audit

def _row(p: PreferencePair | dict) -> tuple[str, str, dict]:
    if isinstance(p, PreferencePair):
        return p.chosen, p.rejected, p.meta
    return p["chosen"], p["rejected"], p.get("meta") or {}


def groups_of(meta: dict, default_split: str) -> list[str]:
    split = str(meta.get("split") or default_split)
    out = ["all", split]
    if meta.get("domain"):
        out.append(f"{split}/{meta['domain']}")
    if meta.get("kind"):
        out.append(f"{split}/{meta['kind']}")
    return out


def audit(pairs: Sequence[PreferencePair | dict], train_pairs: Sequence[PreferencePair | dict] | None = None, *,
          count_tokens: Callable[[str], int] | None = None, split: str = "file", top: int = 12) -> dict:
    """The cue audit of `pairs` (module docstring): {"n", "n_train", "groups": {name: {rule: acc, ...}},
    "directions": {name: {rule: "more"|"fewer"}}, "top_words": {"chosen": [...], "rejected": [...]},
    "top_function_words": {...}}. `split` names pairs without meta.split."""
    rows = [_row(p) for p in pairs]
    if not rows:
        raise ValueError("audit: no pairs")
    train = [_row(p)[:2] for p in train_pairs] if train_pairs is not None else None
    count_tokens = count_tokens or token_counter()
    feats = [(features(c, count_tokens), features(r, count_tokens)) for c, r, _ in rows]
    texts = [(c, r) for c, r, _ in rows]
    bow_all, weights_all = bow_scores(texts, train, None)
    bow_func, weights_func = bow_scores(texts, train, FUNCTION_WORDS)
    members: dict[str, list[int]] = defaultdict(list)
    for i, (_, _, meta) in enumerate(rows):
        for g in groups_of(meta, split):
            members[g].append(i)
    out_groups, directions = {}, {}
    for name, idx in members.items():
        g, d = {"n": len(idx)}, {}
        for rule in RULES[:-1]:
            s = rule_score([feats[i][0][rule] for i in idx], [feats[i][1][rule] for i in idx])
            g[rule], d[rule] = max(s, 1 - s), "more" if s >= 0.5 else "fewer"
        pos = [rows[i][2].get("chosen_position", rows[i][2].get("good_position", rows[i][2].get("better_position"))) for i in idx]
        pos = [p for p in pos if p in (1, 2)]
        if pos:
            s = sum(1 for p in pos if p == 1) / len(pos)
            g["pos"], d["pos"] = max(s, 1 - s), "first" if s >= 0.5 else "second"
        else:
            g["pos"] = None
        g["bow_all"] = sum(bow_all[i] for i in idx) / len(idx)
        g["bow_func"] = sum(bow_func[i] for i in idx) / len(idx)
        ratios = [max(feats[i][0]["tokens"], feats[i][1]["tokens"]) / max(1, min(feats[i][0]["tokens"], feats[i][1]["tokens"]))
                  for i in idx]
        g["ratio_mean"], g["ratio_max"] = sum(ratios) / len(ratios), max(ratios)
        g["ratio_over"] = sum(1 for r in ratios if r > MAX_RATIO) / len(ratios)
        g["chosen_longer"] = sum(1 for i in idx if feats[i][0]["tokens"] > feats[i][1]["tokens"]) / len(idx)
        g["chosen_cites"] = sum(feats[i][0]["cites"] for i in idx) / len(idx)
        g["rejected_cites"] = sum(feats[i][1]["cites"] for i in idx) / len(idx)
        out_groups[name], directions[name] = g, d

    def ranked(weights: list[tuple[str, float]]) -> dict[str, list[tuple[str, float]]]:
        w = sorted(weights, key=lambda t: (t[1], t[0]))
        return {"chosen": [[k, round(float(v), 3)] for k, v in reversed(w[-top:]) if v > 0],
                "rejected": [[k, round(float(v), 3)] for k, v in w[:top] if v < 0]}
    order = sorted(out_groups, key=lambda k: (k != "all", k.count("/"), k))
    return {"n": len(rows), "n_train": len(train) if train is not None else None,
            "regression": "trained on --train" if train is not None else "5-fold cross-validation",
            "groups": {k: out_groups[k] for k in order}, "directions": {k: directions[k] for k in order},
            "top_words": ranked(weights_all), "top_function_words": ranked(weights_func)}


def format_table(result: dict) -> str:
    """The audit as a fixed-width text table (the manifest's and --stats' form)."""
    head = (f"{'group':<30}{'n':>6}  {'words':>6}{'tokens':>7}{'sents':>6}{'cites':>6}{'nums':>6}{'pos':>6}"
            f"  {'bow-all':>7}{'bow-fn':>7}  {'ratio':>5}{'max':>6}{'>1.15':>6}  {'c.long':>6}{'c.cite':>7}{'r.cite':>7}")
    lines = [f"cue audit: {result['n']} pairs; one-rule accuracy = better of rule and reverse (0.50 = no cue); "
             f"regression {result['regression']}" + (f" ({result['n_train']} pairs)" if result["n_train"] else ""),
             head, "-" * len(head)]
    for name, g in result["groups"].items():
        d = result["directions"][name]
        cell = lambda r: f"{g[r]:.2f}{'+' if d.get(r) in ('more', 'first') else '-'}"  # noqa: E731
        pos = cell("pos") if g["pos"] is not None else "n/a"
        lines.append(f"{name:<30}{g['n']:>6}  {cell('words'):>6}{cell('tokens'):>7}{cell('sents'):>6}{cell('cites'):>6}"
                     f"{cell('nums'):>6}{pos:>6}  {g['bow_all']:>7.2f}{g['bow_func']:>7.2f}  {g['ratio_mean']:>5.2f}"
                     f"{g['ratio_max']:>6.2f}{g['ratio_over']:>6.2f}  {g['chosen_longer']:>6.2f}{g['chosen_cites']:>7.2f}"
                     f"{g['rejected_cites']:>7.2f}")
    lines.append("(+ the rule picks the answer with more / the first-listed option; - with fewer / the second; "
                 "c.long = share where chosen has more tokens; c.cite, r.cite = share of chosen, rejected answers citing)")
    for title, key in (("all words", "top_words"), ("function words", "top_function_words")):
        for side in ("chosen", "rejected"):
            words = ", ".join(f"{w} {v:+.2f}" for w, v in result[key][side])
            lines.append(f"top {title} for {side}: {words or '-'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="pair file (JSONL) to audit")
    ap.add_argument("--train", help="pair file the regression is trained on (default: 5-fold cross-validation on FILE)")
    ap.add_argument("--json", help="also write the audit as JSON here")
    args = ap.parse_args(argv)
    pairs, _ = read_pairs(args.file)
    train = read_pairs(args.train)[0] if args.train else None
    result = audit(pairs, train, split=Path(args.file).stem)
    print(format_table(result))
    if args.json:
        from dpo.files import write_text
        write_text(args.json, json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
