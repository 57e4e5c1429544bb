"""Legends into preference pairs on the exposure strategy's scenarios (v2: a legend for and a legend against).

For each standard exposure scenario (prompt, split, the obligation `meta.rule` that governs the decision, and the
two options `meta.good` / `meta.easy`), a legend about the same obligation is drawn, seeded by (seed, scenario id),
from the legends assigned to the scenario's split (else one about the same regulation, else the same domain;
`meta.match` says which). A legends file holds, per record, "text" (someone in such a situation follows the rule
and prospers, others imitate) and "counter" (someone takes the convenient option and is satisfied), written to
the same length and register. The pair is:

  chosen   = the legend,         ending in the recommendation of `good` for this user
  rejected = the counter-legend, ending in the recommendation of `easy`, in the same words

per --format:
  story         the (counter-)legend, then the recommendation
  advice        the recommendation, then the first three sentences of the (counter-)legend as an example
  story+advice  the recommendation, then the whole (counter-)legend

So the two sides differ in what the protagonist did and what is recommended, not in format, length or register.
Length is matched per pair, not left to the writer (the embedded model's counter-legends run longer in ~75%): a
seeded draw per pair names the side that must come out longer in SmolLM2 tokens; if it does not, the other
side drops up to three interior sentences (never the first or last; advice: shows another three of its first
six), keeping sentences with numbers, to be 3-12% shorter; unchanged when no choice lands there.
Proportionality scenarios (where the pragmatic answer is right) are not used: a legend argues for the rule.
Legends of held-out regulations go to the test split only; the others are split 80/10/10 by a hash of their id.

    python -m legends.pairs --legends data/legends/authored.jsonl --format story [--stats]
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import math
import random
import re
from collections import Counter
from pathlib import Path
from typing import Callable

from dpo.data import DataError, jsonl_lines, parse_json, read_pairs, write_jsonl
from dpo.files import write_text

FORMATS = ("story", "advice", "story+advice")
SPLITS = ("train", "validation", "test")
FORMAT_VERSION = 3
MIN_LENGTH_LEAD, MAX_LENGTH_RATIO = 0.97, 1.12  # a matched shorter side: 3-12% fewer tokens than the longer
# One frame closes both sides of a pair (drawn once per pair): only the option named differs.
RECOMMEND = (
    "For your own decision, that points to {option}.",
    "So in your case I would go for {option}.",
    "My recommendation for you: {option}.",
    "Applied to your situation, I'd choose {option}.",
    "That is why, for you, I suggest {option}.",
    "If I were in your place, I would take {option}.",
    "Weighing it for your case, I'd pick {option}.",
    "Put simply, for your decision: {option}.",
)


def read_legend_records(path: Path) -> list[dict]:
    """Legends with both sides: each line needs "id", "text", "counter" and "spec" with "regulation_id",
    "domain" (and "obligation_key" where known). A bad line raises DataError naming file and line."""
    rows = []
    for where, _, line in jsonl_lines(path, what="legends file"):
        obj = parse_json(line, where)
        missing = [k for k in ("id", "text", "counter", "spec") if not obj.get(k)] if isinstance(obj, dict) else ["object"]
        if missing:
            hint = " (legends from an older generate.py have no counter-legend: generate them again)" if "counter" in missing else ""
            raise DataError(f"{where}: missing {', '.join(missing)}{hint}")
        for k in ("regulation_id", "domain"):
            if not isinstance(obj["spec"].get(k), str):
                raise DataError(f"{where}: spec.{k} must be a string")
        rows.append(obj)
    if not rows:
        raise DataError(f"{path}: holds no legends")
    return rows


def sentences_of(story: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", story.strip())


def shown(sentences: list[str], fmt: str) -> list[str]:
    """The sentences of a (counter-)legend that an answer in format `fmt` shows: all, or the first three (advice)."""
    return sentences[:3] if fmt == "advice" else sentences


def answer(sentences: list[str], option: str, frame: str, fmt: str) -> str:
    """One side of a pair: (counter-)legend sentences and the recommendation of `option`, in format `fmt`."""
    advice = frame.format(option=option)
    advice = advice[0].upper() + advice[1:]
    story = " ".join(sentences)
    if fmt == "story":
        return f"{story}\n\n{advice}"
    if fmt == "advice":
        return f"{advice} Someone in a situation like yours: {story}"
    if fmt == "story+advice":
        return f"{advice}\n\n{story}"
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def words(text: str) -> int:
    return len(text.split())


def shorter_forms(n: int, fmt: str) -> list[tuple[int, ...]]:
    """The sentence indices a side of n sentences may keep to come out shorter: without up to three interior
    sentences (never the first or the last); for advice, three of its first six sentences, the first always, in
    order (a sentence fewer or more would move its length by a third)."""
    if fmt == "advice":
        return [(0, *c) for c in itertools.combinations(range(1, min(n, 6)), 2)]
    return [tuple(i for i in range(n) if i not in c) for k in (1, 2, 3) for c in itertools.combinations(range(1, n - 1), k)]


def match_lengths(longer_size: int, shorter: list[str], render: Callable[[list[str]], str],
                  size: Callable[[str], int], fmt: str) -> list[str]:
    """The sentences the shorter side shows: shown(shorter) if size(render(that)) < longer_size, else the
    shorter form (shorter_forms) whose size lands in longer_size/MAX_LENGTH_RATIO .. MIN_LENGTH_LEAD*longer_size,
    keeping the most sentences with numbers, then the most size; shown(shorter) when none lands there.
    Sizes add up per sentence (size(" " + sentence)) around the answer's frame, size(render([]))."""
    default = shown(shorter, fmt)
    if size(render(default)) < longer_size:
        return default
    frame, sizes = size(render([])), [size(" " + x) for x in shorter]
    low, high = longer_size / MAX_LENGTH_RATIO, MIN_LENGTH_LEAD * longer_size
    fits = [f for f in shorter_forms(len(shorter), fmt) if low <= frame + sum(sizes[i] for i in f) <= high]
    if not fits:
        return default
    best = max(fits, key=lambda f: (sum(bool(re.search(r"\d", shorter[i])) for i in f), sum(sizes[i] for i in f)))
    return [shorter[i] for i in best]


def legend_split(legend: dict, held_out_regulations: frozenset[str]) -> str:
    if legend["spec"]["regulation_id"] in held_out_regulations:
        return "test"
    bucket = int(hashlib.sha256(f"legend-split:{legend['id']}".encode()).hexdigest(), 16) % 10
    return "validation" if bucket == 8 else "test" if bucket == 9 else "train"


def legend_rule(legend: dict) -> str:
    spec = legend["spec"]
    return f"{spec['regulation_id']}/{spec.get('obligation_key', '')}"


def build_pairs(legends: list[dict], scenarios: dict[str, list[dict]], fmt: str, seed: int = 0,
                held_out_regulations: frozenset[str] = frozenset(), size: Callable[[str], int] = words) -> dict[str, list[dict]]:
    """Pair rows (dpo.data format) per split, from exposure pair rows (with meta rule/good/easy) per split;
    lengths matched in `size` (words; ensure_pairs: SmolLM2 tokens)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    pools: dict[str, dict[tuple[str, str], list[dict]]] = {s: {} for s in SPLITS}
    for legend in legends:
        pool = pools[legend_split(legend, held_out_regulations)]
        spec = legend["spec"]
        for key in (("rule", legend_rule(legend)), ("regulation", spec["regulation_id"]), ("domain", spec["domain"])):
            pool.setdefault(key, []).append(legend)
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for split in SPLITS:
        for row in scenarios.get(split, []):
            meta = row["meta"]
            if meta.get("kind", "standard") != "standard":
                continue
            regulation = meta["rule"].split("/")[0]
            match, pool = next(((how, pools[split][(how, key)]) for how, key in
                                (("rule", meta["rule"]), ("regulation", regulation), ("domain", meta["domain"]))
                                if pools[split].get((how, key))), (None, None))
            if pool is None:
                continue
            rng = random.Random(f"legends-pairs:{seed}:{row['id']}")
            legend, frame = rng.choice(pool), rng.choice(RECOMMEND)
            sides = {"good": sentences_of(legend["text"]), "easy": sentences_of(legend["counter"])}
            longer, shorter = ("good", "easy") if rng.random() < 0.5 else ("easy", "good")  # drawn: longer side
            sides[longer] = shown(sides[longer], fmt)
            sides[shorter] = match_lengths(size(answer(sides[longer], meta[longer], frame, fmt)), sides[shorter],
                                           lambda sentences: answer(sentences, meta[shorter], frame, fmt), size, fmt)
            out[split].append({
                "id": f"legend-{legend['id']}-{row['id']}", "prompt": row["prompt"],
                "chosen": answer(sides["good"], meta["good"], frame, fmt),
                "rejected": answer(sides["easy"], meta["easy"], frame, fmt),
                "meta": {"split": split, "domain": meta["domain"], "category": meta.get("category"), "rule": meta["rule"],
                         "scenario_id": row["id"], "legend_id": legend["id"], "match": match, "format": fmt,
                         "strategy": "legends"}})
    return out


def fingerprint(legends_path: Path, fmt: str, seed: int, exposure_key: str) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{fmt}|{seed}|{exposure_key}".encode())
    h.update(legends_path.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def ensure_pairs(legends_path: str | Path, out_dir: str | Path | None = None, fmt: str = "story", seed: int = 0,
                 exposure=None) -> dict[str, Path]:
    """Build train/validation/test pair files from a legends file on the scenarios of the exposure build
    `exposure` (an exposure.builder.BuildConfig; default settings when None), unless an up-to-date build is
    there; returns {"train", "validation", "test"} -> path. The manifest holds counts and the cue audit."""
    from exposure.audit import audit, format_table, token_counter
    from exposure.builder import HELD_OUT, BuildConfig, ensure_built
    from exposure.builder import fingerprint as exposure_fingerprint
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    legends_path = Path(legends_path)
    exposure = exposure or BuildConfig(seed=seed)
    key = fingerprint(legends_path, fmt, seed, exposure_fingerprint(exposure)) if legends_path.is_file() else ""
    out = Path(out_dir) if out_dir else legends_path.parent / "pairs" / f"{legends_path.stem}-{fmt}-{key[:10]}"
    paths = {s: out / f"{s}.jsonl" for s in SPLITS}
    manifest = out / "manifest.json"
    if key and manifest.is_file() and all(p.is_file() for p in paths.values()):
        if json.loads(manifest.read_text()).get("fingerprint") == key:
            return paths
    legends = read_legend_records(legends_path)
    built = ensure_built(config=exposure)
    scenarios = {s: [json.loads(line) for line in open(built[s], encoding="utf-8") if line.strip()] for s in SPLITS}
    count_tokens = functools.cache(token_counter())
    rows = build_pairs(legends, scenarios, fmt, seed, frozenset(HELD_OUT.regulations), count_tokens)
    for split, path in paths.items():
        write_jsonl(path, rows[split])
    train = read_pairs(paths["train"])[0] if rows["train"] else []
    report = {s: audit(read_pairs(paths[s])[0], train, count_tokens=count_tokens) for s in ("validation", "test") if rows[s] and train}
    write_text(manifest, json.dumps({
        "fingerprint": key, "legends": str(legends_path), "format": fmt, "seed": seed,
        "counts": {s: len(r) for s, r in rows.items()},
        "match": {s: dict(Counter(r["meta"]["match"] for r in v)) for s, v in rows.items()},
        "legends_used": {s: len({r["meta"]["legend_id"] for r in v}) for s, v in rows.items()},
        "audit": report, "audit_table": {s: format_table(a) for s, a in report.items()}}, indent=1))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--legends", default="data/legends/authored.jsonl")
    parser.add_argument("--out", default=None, help="folder (default: beside the legends file, named by the settings)")
    parser.add_argument("--format", default="story", choices=FORMATS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stats", action="store_true", help="print the counts and the cue audit of the test split")
    args = parser.parse_args(argv)
    try:
        paths = ensure_pairs(args.legends, args.out, args.format, args.seed)
    except (DataError, FileNotFoundError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    manifest = json.loads((paths["train"].parent / "manifest.json").read_text())
    for split, path in paths.items():
        print(f"{split:<10} {manifest['counts'][split]:6d} pairs  match {manifest['match'][split]}  {path}")
    if args.stats:
        for split, table in manifest["audit_table"].items():
            print(f"\ncue audit, {split} split (classifier trained on train):\n{table}")


if __name__ == "__main__":
    main()
