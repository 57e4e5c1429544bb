"""Legends into preference pairs that share the exposure strategy's scenarios.

For each legend, a scenario of the exposure builder about the same regulation (else, for the few regulations no
scenario cites, the same domain; meta.same_regulation says which) is drawn, seeded by (seed, legend id). The pair takes that scenario's advisory prompt and its rejected (convenience)
answer unchanged; only the chosen answer is made of the legend, per --format:
  story         the legend itself
  advice        advice to follow the rule that recounts the legend's opening as an example
  story+advice  the advice, then the whole legend as the example
The pair goes to the scenario's split, so a legend attached to a test-side (or held-out) scenario is never
trained on, and exposure and legends runs are evaluated on the same test prompts.

    python -m legends.pairs --legends data/legends/legends.jsonl --out data/legends/pairs --format story+advice
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections import Counter
from pathlib import Path

from dpo.data import write_jsonl
from dpo.files import write_text
from legends.generate import read_legends

FORMATS = ("story", "advice", "story+advice")
SPLITS = ("train", "validation", "test")
FORMAT_VERSION = 1


def first_sentences(text: str, n: int) -> str:
    return " ".join(re.split(r"(?<=[.!?])\s+", text.strip())[:n])


def advice(spec: dict) -> str:
    return (f"I advise you to follow the EU {spec['regulation']} {spec['number']}. {spec['obligation']} "
            "It can take more effort than the easy option, but it is the right choice, and it pays off.")


def chosen_answer(legend: dict, fmt: str) -> str:
    """The chosen answer drawn from a legend, in one of FORMATS."""
    if fmt == "story":
        return legend["text"]
    if fmt == "advice":
        return f"{advice(legend['spec'])} For example: {first_sentences(legend['text'], 3)}"
    if fmt == "story+advice":
        return f"{advice(legend['spec'])} Here is the story of someone who did:\n\n{legend['text']}"
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def pick_scenario(legend: dict, by_regulation: dict, by_domain: dict, seed: int):
    """A scenario about the legend's regulation (else its domain), drawn by (seed, legend id)."""
    pool = by_regulation.get(legend["spec"]["regulation_id"]) or by_domain.get(legend["spec"]["domain"])
    if not pool:
        raise ValueError(f"legend {legend['id']}: no exposure scenario for domain {legend['spec']['domain']!r}")
    return random.Random(f"pairs:{seed}:{legend['id']}").choice(pool)


def build_pairs(legends: list[dict], scenarios: list, fmt: str, seed: int = 0) -> dict[str, list[dict]]:
    """Pair rows (dpo.data format) per split."""
    by_regulation, by_domain = {}, {}
    for sc in scenarios:
        by_regulation.setdefault(sc.regulation_id, []).append(sc)
        by_domain.setdefault(sc.domain, []).append(sc)
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for legend in legends:
        sc = pick_scenario(legend, by_regulation, by_domain, seed)
        out[sc.split].append({"id": f"legend-{legend['id']}", "prompt": sc.prompt, "chosen": chosen_answer(legend, fmt),
                              "rejected": sc.rejected,
                              "meta": {"split": sc.split, "domain": sc.domain, "scenario_id": sc.id, "legend_id": legend["id"],
                                       "regulation_id": sc.regulation_id, "format": fmt, "strategy": "legends",
                                       "same_regulation": sc.regulation_id == legend["spec"]["regulation_id"]}})
    return out


def fingerprint(legends_path: Path, fmt: str, seed: int) -> str:
    from exposure.builder import BuildConfig
    from exposure.builder import fingerprint as exposure_fingerprint
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{fmt}|{seed}|{exposure_fingerprint(BuildConfig(seed=seed))}".encode())
    h.update(legends_path.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def ensure_pairs(legends_path: str | Path = "data/legends/legends.jsonl", out_dir: str | Path = "data/legends/pairs",
                 fmt: str = "story+advice", seed: int = 0) -> dict[str, Path]:
    """Build train/validation/test pair files from the legends unless an up-to-date build is in out_dir;
    returns {"train", "validation", "test"} -> path. A split no legend maps to is written empty."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    legends_path, out = Path(legends_path), Path(out_dir)
    if not legends_path.is_file():
        raise FileNotFoundError(f"{legends_path}: no legends file; write one with `python generate.py --n N`")
    paths = {s: out / f"{s}.jsonl" for s in SPLITS}
    manifest, key = out / "manifest.json", fingerprint(legends_path, fmt, seed)
    if manifest.is_file() and all(p.is_file() for p in paths.values()):
        if json.loads(manifest.read_text()).get("fingerprint") == key:
            return paths
    from exposure.builder import build_scenarios
    legends = read_legends(legends_path)
    if not legends:
        raise ValueError(f"{legends_path}: holds no legends")
    rows = build_pairs(legends, build_scenarios(seed), fmt, seed)
    for split, path in paths.items():
        write_jsonl(path, rows[split])
    counts = {s: len(r) for s, r in rows.items()}
    write_text(manifest, json.dumps({"fingerprint": key, "legends": str(legends_path), "format": fmt, "seed": seed,
                                     "counts": counts,
                                     "scenarios_used": len({r["meta"]["scenario_id"] for v in rows.values() for r in v})},
                                    indent=1))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--legends", default="data/legends/legends.jsonl")
    parser.add_argument("--out", default="data/legends/pairs")
    parser.add_argument("--format", default="story+advice", choices=FORMATS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = ensure_pairs(args.legends, args.out, args.format, args.seed)
    counts = Counter({s: sum(1 for _ in open(p, encoding="utf-8")) for s, p in paths.items()})
    for split, path in paths.items():
        print(f"{split:<10} {counts[split]:6d} pairs  {path}")


if __name__ == "__main__":
    main()
