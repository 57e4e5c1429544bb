"""Ratings files: many raters' scores of responses, and how they become preference pairs.

A ratings file is JSONL. Its first line may be a header declaring each dimension's scale (inclusive):
  {"scales": {"helpfulness": [1, 5], "common_good": [1, 5]}, "description": str (optional)}
(`--scale NAME=LO:HI` declares one or overrides the header's). Every other line is one rater's scores of one
response to one prompt:
  {"prompt": str | [{"role": ..., "content": ...}, ...], "response": str, "scores": {"helpfulness": 4, ...},
   "rater": str, "rater_attributes": {"country": "PL", "age_band": "30-44", ...},
   "prompt_id": str, "response_id": str, "system": str, "meta": dict}
where every field after "scores" is optional ("meta" describes the response). Responses are grouped by prompt
(and system), a response by its text without surrounding white space; a rater has the same attributes on
every line and rates a response at most once.

Ratings become pairs, for each prompt and each two of its responses a and b, as follows.
  utility   u_r(x) = sum_d w_d * x_d over the chosen dimensions d (weights w_d), with x_d the score mapped
            to [0, 1] on its scale, (score - lo) / (hi - lo), or, binarised at a threshold t,
            x_d = 1 if score >= t else 0 (a 5-point scale read as thumbs up or down);
  votes     each rater who rated both a and b votes for the one of higher utility (equal: tied, no vote);
  majority  one pair, toward the response with more votes; equal votes drop the comparison as a tie;
  mean      one pair, toward the higher mean utility over all ratings of each response (raters need not
            overlap; ratings without a rater count); equal means are a tie;
  keep-all  one pair per rater who voted, in that rater's direction (disagreeing raters give opposite pairs);
  soft      the majority pair with confidence = its votes / all votes (a 5 to 2 split gives 5/7); the
            DPO losses turn it into per-pair label smoothing (dpo/loss.py).
A filter on rater attributes (`--where country=PL,DE`, repeatable, all must hold) first keeps only the ratings
of raters with one of the listed values; raters without the attribute are left out.

  python -m dpo.ratings FILE --out pairs.jsonl [--aggregation majority|mean|keep-all|soft]
                         [--dimensions helpfulness=1,common_good=2] [--binarize 4] [--where gender=female]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .data import DataError, PreferencePair, check_prompt, jsonl_lines, parse_json, write_jsonl, write_pairs

AGGREGATIONS = ("majority", "mean", "keep-all", "soft")
TIE = 1e-9  # utilities closer than this are equal


@dataclass
class Rating:
    prompt: str | list[dict]
    response: str
    scores: dict[str, float]
    rater: str | None = None  # None: anonymous (only the mean aggregation can use it)
    rater_attributes: dict[str, Any] = field(default_factory=dict)
    prompt_id: str = ""
    response_id: str = ""
    system: str | None = None
    meta: dict = field(default_factory=dict)
    where: str = ""  # "file:line" it was read from

    def to_json(self) -> dict:
        out: dict[str, Any] = {"prompt": self.prompt, "response": self.response, "scores": self.scores}
        for key in ("rater", "rater_attributes", "prompt_id", "response_id", "system", "meta"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass
class Ratings:
    scales: dict[str, tuple[float, float]]  # dimension -> (lo, hi)
    ratings: list[Rating]
    description: str = ""


# ----------------------------------------------------------------------------- reading and writing

def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_scales(obj: Any, where: str) -> dict[str, tuple[float, float]]:
    """{"name": [lo, hi], ...} with numbers lo < hi."""
    if not isinstance(obj, dict) or not obj:
        raise DataError(f"{where}: 'scales' must be a non-empty object {{\"name\": [lo, hi]}}")
    out = {}
    for name, scale in obj.items():
        if not (isinstance(scale, list) and len(scale) == 2 and all(map(_number, scale)) and scale[0] < scale[1]):
            raise DataError(f"{where}: scale of '{name}' must be [lo, hi] with numbers lo < hi, got {scale!r}")
        out[name] = (float(scale[0]), float(scale[1]))
    return out


def parse_rating(obj: Any, where: str, scales: dict[str, tuple[float, float]]) -> Rating:
    """Validate one decoded rating line; `where` ("file:line") prefixes every error."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "scales" in obj:
        raise DataError(f"{where}: a header line ('scales') may only be the file's first line")
    for key in ("prompt", "response", "scores"):
        if key not in obj:
            raise DataError(f"{where}: missing field '{key}'")
    check_prompt(obj["prompt"], where)
    if not isinstance(obj["response"], str) or not obj["response"].strip():
        raise DataError(f"{where}: field 'response' must be a non-empty string")
    scores = obj["scores"]
    if not isinstance(scores, dict) or not scores:
        raise DataError(f"{where}: field 'scores' must be a non-empty object {{\"dimension\": score}}")
    for name, score in scores.items():
        if name not in scales:
            raise DataError(f"{where}: no scale declared for dimension '{name}' (declare it in a header line "
                            f"{{\"scales\": {{\"{name}\": [lo, hi]}}}} or with --scale {name}=LO:HI)")
        lo, hi = scales[name]
        if not _number(score) or not lo <= score <= hi:
            raise DataError(f"{where}: score '{name}' must be a number in [{lo:g}, {hi:g}], got {score!r}")
    for key, kind in (("rater", str), ("prompt_id", str), ("response_id", str), ("system", str),
                      ("rater_attributes", dict), ("meta", dict)):
        if obj.get(key) is not None and not isinstance(obj[key], kind):
            raise DataError(f"{where}: field '{key}' must be a {kind.__name__}, got {type(obj[key]).__name__}")
    attributes = obj.get("rater_attributes") or {}
    for name, value in attributes.items():
        if not (isinstance(value, str) or _number(value)):
            raise DataError(f"{where}: rater attribute '{name}' must be a string or a number, got {value!r}")
    return Rating(prompt=obj["prompt"], response=obj["response"], scores={k: float(v) for k, v in scores.items()},
                  rater=obj.get("rater") or None, rater_attributes=attributes, prompt_id=obj.get("prompt_id") or "",
                  response_id=obj.get("response_id") or "", system=obj.get("system"), meta=obj.get("meta") or {},
                  where=where)


def prompt_key(prompt: str | list[dict], system: str | None) -> str:
    return json.dumps([prompt, system], ensure_ascii=False, sort_keys=True)


def read_ratings(path: str | os.PathLike, scales: dict[str, tuple[float, float]] | None = None) -> Ratings:
    """Read a ratings file; `scales` declares or overrides the header's. The first bad line raises DataError
    naming the file and line: bad JSON or fields, a score off its scale or of an undeclared dimension, a rater
    whose attributes change, a rater rating a response twice, a prompt or response given two ids."""
    active, description, ratings = dict(scales or {}), "", []
    raters: dict[str, tuple[dict, str]] = {}  # rater -> (attributes, where first seen)
    rated: dict[tuple[str, str, str], str] = {}  # (prompt, response, rater) -> where
    ids: dict[tuple, tuple[str, str]] = {}  # (prompt,) or (prompt, response) -> (id, where)
    for i, (where, _, line) in enumerate(jsonl_lines(path)):
        obj = parse_json(line, where)
        if i == 0 and isinstance(obj, dict) and "scales" in obj:
            unknown = sorted(set(obj) - {"scales", "description"})
            if unknown:
                raise DataError(f"{where}: unknown header field(s) {', '.join(unknown)} (a header has 'scales' "
                                "and optionally 'description')")
            active = {**parse_scales(obj["scales"], where), **active}
            description = str(obj.get("description") or "")
            continue
        r = parse_rating(obj, where, active)
        key, text = prompt_key(r.prompt, r.system), r.response.strip()
        for ident, what, value in (((key,), "prompt", r.prompt_id), ((key, text), "response", r.response_id)):
            if value:
                first = ids.setdefault(ident, (value, where))
                if first[0] != value:
                    raise DataError(f"{where}: this {what} has {what}_id {value!r}, but {first[0]!r} at {first[1]}")
        if r.rater is not None:
            attributes, first = raters.setdefault(r.rater, (r.rater_attributes, where))
            if attributes != r.rater_attributes:
                raise DataError(f"{where}: rater {r.rater!r} has other attributes than at {first}")
            earlier = rated.setdefault((key, text, r.rater), where)
            if earlier != where:
                raise DataError(f"{where}: rater {r.rater!r} already rated this response at {earlier}")
        ratings.append(r)
    if not ratings:
        raise DataError(f"{path}: no ratings")
    return Ratings(scales=active, ratings=ratings, description=description)


def write_ratings(path: str | os.PathLike, ratings: Ratings) -> None:
    """Write a ratings file (header line, then one line a rating), atomically."""
    header = {"scales": {k: list(v) for k, v in ratings.scales.items()}}
    if ratings.description:
        header["description"] = ratings.description
    write_jsonl(path, itertools.chain([header], (r.to_json() for r in ratings.ratings)))


# ----------------------------------------------------------------------------- ratings -> pairs

@dataclass
class PairConfig:
    """How ratings become pairs (see the module docstring)."""
    aggregation: str = "majority"
    weights: dict[str, float] = field(default_factory=dict)  # dimension -> weight; empty: every dimension, weight 1
    binarize: float | None = None  # threshold on each dimension's own scale: score >= threshold counts as 1
    where: dict[str, list[str]] = field(default_factory=dict)  # rater attribute -> accepted values


def check_config(cfg: PairConfig, scales: dict[str, tuple[float, float]]) -> dict[str, float]:
    """The dimension weights to use; ValueError for an unknown aggregation or dimension, bad weights or threshold."""
    if cfg.aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {cfg.aggregation!r}")
    weights = cfg.weights or {d: 1.0 for d in scales}
    unknown = sorted(set(weights) - set(scales))
    if unknown:
        raise ValueError(f"no dimension {', '.join(unknown)} in the ratings (has: {', '.join(scales)})")
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValueError(f"dimension weights must be >= 0 and not all 0, got {weights}")
    if cfg.binarize is not None:
        for d in weights:
            lo, hi = scales[d]
            if not lo < cfg.binarize <= hi:
                raise ValueError(f"binarize threshold {cfg.binarize:g} must lie in ({lo:g}, {hi:g}], the scale of '{d}'")
    return weights


def utility(r: Rating, weights: dict[str, float], scales: dict[str, tuple[float, float]],
            threshold: float | None) -> float:
    """sum_d w_d x_d with x_d = (score - lo) / (hi - lo), or 1[score >= threshold] when binarised."""
    total = 0.0
    for d, w in weights.items():
        if d not in r.scores:
            raise DataError(f"{r.where}: no '{d}' score (the pairs use {', '.join(weights)})")
        lo, hi = scales[d]
        total += w * (float(r.scores[d] >= threshold) if threshold is not None else (r.scores[d] - lo) / (hi - lo))
    return total


@dataclass
class _Response:
    text: str
    id: str
    meta: dict
    by_rater: dict[str, float] = field(default_factory=dict)  # rater -> utility
    all: list[float] = field(default_factory=list)  # every rating's utility, anonymous ones too


@dataclass
class _Prompt:
    prompt: str | list[dict]
    system: str | None
    id: str
    responses: dict[str, _Response] = field(default_factory=dict)  # by stripped text, in order of first appearance


def in_group(r: Rating, where: dict[str, list[str]]) -> bool:
    """Whether the rater has, for every attribute in `where`, one of its values (compared as strings)."""
    return all(k in r.rater_attributes and str(r.rater_attributes[k]) in map(str, v) for k, v in where.items())


def ratings_to_pairs(ratings: Ratings, cfg: PairConfig) -> tuple[list[PreferencePair], Counter]:
    """Pairs from ratings per `cfg`, and counts: ratings, kept (by the group filter), prompts (with kept
    ratings), comparisons (two rated responses to one prompt), pairs, ties (comparisons, or with keep-all
    raters, dropped as ties) and no_common_rater (comparisons no rater rated both sides of; not for mean)."""
    weights = check_config(cfg, ratings.scales)
    counts = Counter(ratings=len(ratings.ratings))
    prompts: dict[str, _Prompt] = {}  # every prompt and response, so default ids do not depend on the filter
    attributes: dict[str, dict] = {}
    for r in ratings.ratings:
        key = prompt_key(r.prompt, r.system)
        p = prompts.setdefault(key, _Prompt(r.prompt, r.system, r.prompt_id or f"p{len(prompts)}"))
        resp = p.responses.setdefault(r.response.strip(),
                                      _Response(r.response, r.response_id or f"r{len(p.responses)}", r.meta))
        if not in_group(r, cfg.where):
            continue
        counts["kept"] += 1
        u = utility(r, weights, ratings.scales, cfg.binarize)
        resp.all.append(u)
        if r.rater is not None:
            resp.by_rater[r.rater] = u
            attributes[r.rater] = r.rater_attributes
    pairs: list[PreferencePair] = []
    for p in prompts.values():
        rated = [resp for resp in p.responses.values() if resp.all]
        counts["prompts"] += bool(rated)
        for a, b in itertools.combinations(rated, 2):
            counts["comparisons"] += 1
            pairs += compare(p, a, b, cfg.aggregation, attributes, counts)
    counts["pairs"] = len(pairs)
    return pairs, counts


def compare(p: _Prompt, a: _Response, b: _Response, aggregation: str, attributes: dict[str, dict],
            counts: Counter) -> list[PreferencePair]:
    """The pairs one comparison of responses a and b gives under `aggregation`; ties and unrated are counted."""
    def pair(win: _Response, lose: _Response, meta: dict, suffix: str = "", confidence: float | None = None):
        meta = {"aggregation": aggregation, **meta}
        for side, resp in (("chosen_meta", win), ("rejected_meta", lose)):
            if resp.meta:
                meta[side] = resp.meta
        return PreferencePair(prompt=p.prompt, chosen=win.text, rejected=lose.text, id=f"{p.id}:{win.id}>{lose.id}{suffix}",
                              system=p.system, meta=meta, confidence=confidence)

    if aggregation == "mean":
        ma, mb = sum(a.all) / len(a.all), sum(b.all) / len(b.all)
        if abs(ma - mb) <= TIE:
            counts["ties"] += 1
            return []
        (win, mw), (lose, ml) = sorted(((a, ma), (b, mb)), key=lambda x: -x[1])
        return [pair(win, lose, {"mean_utility": [round(mw, 6), round(ml, 6)], "ratings": [len(win.all), len(lose.all)]})]
    common = [r for r in a.by_rater if r in b.by_rater]
    if not common:
        counts["no_common_rater"] += 1
        return []
    diff = {r: a.by_rater[r] - b.by_rater[r] for r in common}
    for_a, for_b = [r for r in common if diff[r] > TIE], [r for r in common if diff[r] < -TIE]
    tied = len(common) - len(for_a) - len(for_b)
    if aggregation == "keep-all":
        counts["ties"] += tied
        out = []
        for r in common:
            if abs(diff[r]) > TIE:
                win, lose = (a, b) if diff[r] > 0 else (b, a)
                out.append(pair(win, lose, {"rater": r, "rater_attributes": attributes[r]}, f":{r}"))
        return out
    if len(for_a) == len(for_b):
        counts["ties"] += 1
        return []
    (win, n_win), (lose, n_lose) = sorted(((a, len(for_a)), (b, len(for_b))), key=lambda x: -x[1])
    votes = {"votes": {"chosen": n_win, "rejected": n_lose, "tied": tied}}
    return [pair(win, lose, votes, confidence=n_win / (n_win + n_lose) if aggregation == "soft" else None)]


# ----------------------------------------------------------------------------- command line

def parse_weights(spec: str) -> dict[str, float]:
    """"a" -> {"a": 1}; "a=1,b=0.5" -> {"a": 1, "b": 0.5}; "" -> {} (every dimension)."""
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, weight = item.partition("=")
        try:
            out[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"--dimensions: weight of '{name}' must be a number, got {weight!r}") from None
    return out


def parse_where(specs: list[str]) -> dict[str, list[str]]:
    """["country=PL,DE", "gender=female"] -> {"country": ["PL", "DE"], "gender": ["female"]}."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, eq, values = spec.partition("=")
        if not eq or not name.strip() or not values.strip():
            raise ValueError(f"--where wants ATTRIBUTE=VALUE[,VALUE...], got {spec!r}")
        out.setdefault(name.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return out


def parse_scale_flags(specs: list[str]) -> dict[str, tuple[float, float]]:
    """["helpfulness=1:5"] -> {"helpfulness": (1.0, 5.0)}."""
    out = {}
    for spec in specs:
        name, _, scale = spec.partition("=")
        lo, _, hi = scale.partition(":")
        try:
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"--scale wants NAME=LO:HI, got {spec!r}") from None
        if not out[name.strip()][0] < out[name.strip()][1]:
            raise ValueError(f"--scale {spec}: need LO < HI")
    return out


def summary(counts: Counter) -> str:
    return (f"{counts['ratings']} ratings ({counts['kept']} kept by the group filter), {counts['prompts']} prompts, "
            f"{counts['comparisons']} comparisons -> {counts['pairs']} pairs; dropped: {counts['ties']} ties, "
            f"{counts['no_common_rater']} without a common rater")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="ratings file (JSONL)")
    parser.add_argument("--out", required=True, help="pair file to write")
    parser.add_argument("--aggregation", choices=AGGREGATIONS, default="majority")
    parser.add_argument("--dimensions", default="", metavar="NAME[=W],...",
                        help="dimensions and weights of the utility (default: every dimension, weight 1)")
    parser.add_argument("--binarize", type=float, default=None, metavar="T", help="score >= T counts 1, else 0")
    parser.add_argument("--where", action="append", default=[], metavar="ATTR=V[,V...]",
                        help="keep only raters with one of these attribute values (repeatable)")
    parser.add_argument("--scale", action="append", default=[], metavar="NAME=LO:HI",
                        help="declare a dimension's scale (overrides the header)")
    args = parser.parse_args(argv)
    try:
        ratings = read_ratings(args.file, scales=parse_scale_flags(args.scale))
        cfg = PairConfig(aggregation=args.aggregation, weights=parse_weights(args.dimensions),
                         binarize=args.binarize, where=parse_where(args.where))
        pairs, counts = ratings_to_pairs(ratings, cfg)
    except (DataError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(summary(counts), file=sys.stderr)
    if not pairs:
        sys.exit("error: no pairs (every comparison was a tie or had no common rater); nothing written")
    write_pairs(args.out, pairs)


if __name__ == "__main__":
    main()
