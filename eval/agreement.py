"""How far the automatic judges agree with answers labelled by hand (data/eval/judge_labels.jsonl).

Label file, JSONL, one labelled answer a line:
  {"id": str, "prompt_id": str, "prompt": str, "answer": str, "recommends": "good"|"easy"|"neither",
   "labels": {"common_good": 1-5, "factual": 1-5, "preachy": 1-5, "engaging": 1-5}, "rationale": str, ...}
The two recommendations at stake come from the open item `prompt_id` names (its meta.good and meta.easy), or
from "good"/"easy" fields on the line. `recommends` is required, the four rubric scores are optional (each
statistic uses the lines that have them); any label may stand at the top level or under "labels".

Statistics (n = answers both sides labelled):
  accuracy          share of answers where the judge's label equals the hand label.
  kappa             Cohen's kappa, (p_o - p_e) / (1 - p_e), p_e from the two label marginals.
  weighted_kappa    for 1-5 scores: quadratic-weighted kappa, 1 - sum w_ij O_ij / sum w_ij E_ij with
                    w_ij = (i - j)^2 / (K - 1)^2, O the observed and E the chance-expected count table.
  within_one        share of 1-5 scores that differ by at most one point.
The embedding judge is compared on `recommends`; the LLM judge on the four scores and on `recommends`
(its common_good score >= 4 reads as good, <= 2 as easy, 3 as neither).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dpo.data import DataError, jsonl_lines, parse_json
from eval.judge import CRITERIA
from eval.suites import Item

LABELS_FILE = Path(__file__).resolve().parents[1] / "data" / "eval" / "judge_labels.jsonl"
RECOMMENDS = ("good", "easy", "neither")


class LabelError(DataError):
    """A malformed label file; the message names the file, the line and the field."""


@dataclass
class Labelled:
    id: str
    prompt: str
    answer: str
    good: str
    easy: str
    recommends: str
    scores: dict[str, int] = field(default_factory=dict)


def parse_label(obj: Any, where: str, options: dict[str, tuple[str, str]]) -> Labelled:
    """One label line; `options` maps open item ids to their (good, easy) statements."""
    if not isinstance(obj, dict):
        raise LabelError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    labels = dict(obj, **obj["labels"]) if isinstance(obj.get("labels"), dict) else obj
    for name in ("id", "prompt", "answer"):
        if not (isinstance(obj.get(name), str) and obj[name].strip()):
            raise LabelError(f"{where}: field '{name}' must be a non-empty string")
    if labels.get("recommends") not in RECOMMENDS:
        raise LabelError(f"{where}: field 'recommends' must be one of {', '.join(RECOMMENDS)}, got {labels.get('recommends')!r}")
    if isinstance(obj.get("good"), str) and isinstance(obj.get("easy"), str):
        good, easy = obj["good"], obj["easy"]
    elif obj.get("prompt_id") in options:
        good, easy = options[obj["prompt_id"]]
    else:
        raise LabelError(f"{where}: field 'prompt_id' {obj.get('prompt_id')!r} names no open item with meta.good and "
                         "meta.easy (or give 'good' and 'easy' on the line)")
    scores = {}
    for name in CRITERIA:
        value = labels.get(name)
        if value is not None:
            if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5):
                raise LabelError(f"{where}: field '{name}' must be an integer from 1 to 5, got {value!r}")
            scores[name] = value
    return Labelled(obj["id"], obj["prompt"], obj["answer"], good, easy, labels["recommends"], scores)


def read_labels(path: str | os.PathLike = LABELS_FILE, open_items: Sequence[Item] = ()) -> list[Labelled]:
    """The labelled answers; `open_items` supply the recommendations of the items named by prompt_id."""
    options = {i.id: (i.meta["good"], i.meta["easy"]) for i in open_items if i.kind == "open"}
    rows = [parse_label(parse_json(line, where, LabelError), where, options)
            for where, _, line in jsonl_lines(Path(path), error=LabelError, what="label file")]
    if not rows:
        raise LabelError(f"{path}: no labelled answers")
    return rows


def cohen_kappa(a: Sequence, b: Sequence, categories: Sequence | None = None, *, weighted: bool = False) -> float:
    """Cohen's kappa of two raters (quadratic-weighted over ordered `categories` when weighted)."""
    cats = list(categories) if categories is not None else sorted(set(a) | set(b))
    k, n = len(cats), len(a)
    if n == 0 or k < 2:
        return math.nan
    index = {c: i for i, c in enumerate(cats)}
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b):
        observed[index[x]][index[y]] += 1
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    def w(i, j):
        return (i - j) ** 2 / (k - 1) ** 2 if weighted else float(i != j)
    disagree = sum(w(i, j) * observed[i][j] for i in range(k) for j in range(k))
    expected = sum(w(i, j) * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    return 1 - disagree / expected if expected else math.nan  # one category used by both: undefined


def label_agreement(human: Sequence[str], judge: Sequence[str]) -> dict:
    pairs = [(h, j) for h, j in zip(human, judge) if j is not None]
    h, j = [p[0] for p in pairs], [p[1] for p in pairs]
    return {"n": len(pairs), "accuracy": sum(x == y for x, y in pairs) / len(pairs) if pairs else math.nan,
            "kappa": cohen_kappa(h, j, RECOMMENDS)}


def score_agreement(human: Sequence[int | None], judge: Sequence[int | None]) -> dict:
    pairs = [(h, j) for h, j in zip(human, judge) if h is not None and j is not None]
    h, j = [p[0] for p in pairs], [p[1] for p in pairs]
    return {"n": len(pairs), "weighted_kappa": cohen_kappa(h, j, range(1, 6), weighted=True),
            "exact": sum(x == y for x, y in pairs) / len(pairs) if pairs else math.nan,
            "within_one": sum(abs(x - y) <= 1 for x, y in pairs) / len(pairs) if pairs else math.nan}


def recommends_from_score(score: int | None) -> str | None:
    if score is None:
        return None
    return "good" if score >= 4 else "easy" if score <= 2 else "neither"


def llm_agreement(rows: Sequence[Labelled], rated: Sequence[dict[str, int | None]]) -> dict:
    """The LLM judge's agreement with the hand labels, per criterion and on `recommends`."""
    out = {c: score_agreement([r.scores.get(c) for r in rows], [s.get(c) for s in rated]) for c in CRITERIA}
    out["recommends"] = label_agreement([r.recommends for r in rows],
                                        [recommends_from_score(s.get("common_good")) for s in rated])
    return out
