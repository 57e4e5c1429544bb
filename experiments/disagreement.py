"""Rater disagreement: how ratings become pairs (majority, keep-all, soft) on 5-point or binary scores.

  python -m experiments.run experiments/disagreement.py --no-eval   # train the six runs
  python -m experiments.disagreement                                # held-out agreement with the panel, a table

The ratings are data/ratings/advisor_ratings.jsonl: SYNTHETIC ratings of exposure prompts and responses by
twelve hand-written rater profiles (exposure/panel.py), with real disagreement between profiles. Ratings of
exposure train prompts become the training pairs, once per aggregation (majority, keep-all, soft) and scale
(the 5-point scores, or binarised at >= 4), all dimensions weighted equally. Ratings of exposure validation
prompts, aggregated by the 5-point majority of the whole panel, are every run's held-out pairs, so
eval/rewards/accuracies is how often the tuned model's implicit reward sides with the panel on new prompts.

Every run takes the same number of optimizer steps (equal compute): keep-all has about seven times as many
pairs as majority, so it sees each pair less often. Pair files are rebuilt into data/ratings/pairs/ whenever
this file is loaded (deterministic; the runner trains a run whose data changed again, from the start).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from dpo.config import TrainConfig
from dpo.data import write_pairs
from dpo.ratings import PairConfig, Ratings, ratings_to_pairs, read_ratings

ROOT = Path(__file__).resolve().parents[1]
RATINGS = ROOT / "data" / "ratings" / "advisor_ratings.jsonl"
PAIRS = ROOT / "data" / "ratings" / "pairs"
AGGREGATIONS = ("majority", "keep-all", "soft")
SCALES = {"5pt": None, "binary": 4.0}  # binary: each score >= 4 counts 1, else 0
HELDOUT = "heldout-majority"


def split(ratings: Ratings, name: str) -> Ratings:
    """The ratings whose response meta has split == name (the exposure split the prompt came from)."""
    return Ratings(ratings.scales, [r for r in ratings.ratings if r.meta.get("split") == name], ratings.description)


def build_pairs(ratings_file: Path = RATINGS, out_dir: Path = PAIRS) -> dict[str, Path]:
    """Write one pair file per run (aggregation-scale) and the held-out file; returns {name: path}."""
    ratings = read_ratings(ratings_file)
    train, heldout = split(ratings, "train"), split(ratings, "validation")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for aggregation in AGGREGATIONS:
        for scale, threshold in SCALES.items():
            pairs, _ = ratings_to_pairs(train, PairConfig(aggregation, binarize=threshold))
            files[f"{aggregation}-{scale}"] = out_dir / f"{aggregation}-{scale}.jsonl"
            write_pairs(files[f"{aggregation}-{scale}"], pairs)
    files[HELDOUT] = out_dir / f"{HELDOUT}.jsonl"
    write_pairs(files[HELDOUT], ratings_to_pairs(heldout, PairConfig("majority"))[0])
    return files


def make_runs(base: TrainConfig, ratings_file: Path = RATINGS, out_dir: Path = PAIRS) -> dict[str, TrainConfig]:
    """One run per training pair file, all evaluated on the held-out panel majority."""
    files = build_pairs(ratings_file, out_dir)
    heldout = files.pop(HELDOUT)
    return {name: replace(base, data=[str(f)], eval_data=[str(heldout)]) for name, f in files.items()}


base = TrainConfig(max_train_pairs=0, max_eval_pairs=0, max_steps=32, eval_every=8, save_every=32, seed=0)
runs = make_runs(base)


def side_share(path: Path) -> tuple[int, float, float]:
    """(pairs, share whose chosen is the common-good response, mean confidence) of a pair file."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    good = sum(r["meta"]["chosen_meta"]["side"] == "common_good" for r in rows)
    return len(rows), good / len(rows), sum(r.get("confidence", 1.0) for r in rows) / len(rows)


def table(results: Path, runs: dict[str, TrainConfig]) -> str:
    """Markdown table: each run's training pairs and its final held-out metrics (runs under results/NAME)."""
    from dpo.tracking import read_metrics
    lines = ["| run | train pairs | chosen = common good | mean confidence | held-out agreement | held-out margin | held-out loss |",
             "|---|---|---|---|---|---|---|"]
    for name, cfg in runs.items():
        n, good, conf = side_share(Path(cfg.data[0]))
        evals = [m for m in read_metrics(results / name) if "eval/rewards/accuracies" in m] if (results / name).is_dir() else []
        last = evals[-1] if evals else {}
        cells = [f"{last[k]:.3f}" if k in last else "-" for k in
                 ("eval/rewards/accuracies", "eval/rewards/margins", "eval/loss")]
        lines.append(f"| {name} | {n} | {good:.2f} | {conf:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="experiments/results/disagreement", help="the runs' parent folder")
    print(table(Path(parser.parse_args().results), runs))
