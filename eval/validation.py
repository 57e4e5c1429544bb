"""Validation: choose training settings on hand-written items that no report uses (data/validation/*.jsonl, and
a second, fresh set in data/validation2/: `--suite data/validation2`).

The test suites (data/eval/) report results; choosing beta, data size or LoRA targets on them would select on
the test set. This scores the base and each run on the validation suites by forced choice (eval.scoring) and
gives, per kind (compliance, rigidity), the accuracy and the mean margin

    margin(item) = mean log p(answer option) - mean log p(other option)     (length-normalised log-probs)

with each run's paired difference to the base (clustered bootstrap, eval.stats.compare). The margin moves long
before an item flips, so it separates settings whose accuracies are equal. Runs of one setting over several
seeds (run folders whose config.json differ only in the seed, eval.aggregate.groups) are grouped: mean over
seeds, the interval over seeds and items.

  python -m eval.validation runs/exposure-seed0 runs/lr2e-3-seed0 ... [--out validation.json]
  python -m eval.validation --from validation.json --paired lr2e-3-seed0 exposure-seed0   # one run minus another

--paired reads a saved --out file (no scoring): run A's margins and accuracies minus run B's on the same items,
per kind, with the interval and p of the same clustered bootstrap (and McNemar's p for accuracy), the figure
the recipe rounds' rules decide on (experiments/results/recipe/report.md). --suite must name the suites it was
scored on.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dpo.files import write_text
from dpo.lora import load_adapter, merge_lora
from dpo.models import load_model
from dpo.precision import resolve_precision
from eval.aggregate import groups
from eval.pipeline import adapter_folder
from eval.scoring import ItemScore, ScoringConfig, score_items
from eval.stats import compare, estimate
from eval.suites import Item, read_suites

VALIDATION_DIR = Path(__file__).resolve().parents[1] / "data" / "validation"
SECOND_SET = VALIDATION_DIR.with_name("validation2")  # written later, for choices after the first set's five


def validation_suites(folder: Path = VALIDATION_DIR) -> list[Path]:
    return sorted(folder.glob("*.jsonl"))


def margins(scores: list[ItemScore]) -> np.ndarray:
    """(n,) per item: mean log-prob of the answer option minus that of the other option (two-option items)."""
    return np.array([s.logp_mean[s.answer] - s.logp_mean[1 - s.answer] for s in scores], dtype=np.float64)


def score_model(name: str, run: Path | None, items: list[Item], cfg: ScoringConfig, model_name: str,
                cache_dir: str | None) -> list[ItemScore]:
    """Forced-choice scores of the base (run None) or of an adapter folder, merged into a fresh copy of the base."""
    model, tokenizer = load_model(model_name, cache_dir=cache_dir)
    if run is not None:
        merge_lora(load_adapter(model, run))
    print(f"[{name}] scoring {len(items)} validation items", file=sys.stderr)
    return score_items(model, tokenizer, items, cfg, desc=name)


def summarise(per_run: dict[str, np.ndarray], base: np.ndarray, clusters: list[str],
              settings: dict[str, list[str]], *, seed: int = 0) -> dict:
    """{setting: {margin, accuracy, margin_vs_base, accuracy_vs_base}} from per-run margins (n,); settings maps a
    label to its runs' names (eval.aggregate.groups), stacked as seeds."""
    out = {"base": {"margin": estimate(base[None], clusters, seed=seed).to_json(),
                    "accuracy": estimate((base[None] > 0).astype(float), clusters, seed=seed).to_json()}}
    for setting, names in settings.items():
        m = np.stack([per_run[n] for n in names])
        out[setting] = {"seeds": len(names), "margin": estimate(m, clusters, seed=seed).to_json(),
                        "accuracy": estimate((m > 0).astype(float), clusters, seed=seed).to_json(),
                        "margin_vs_base": compare(m, base[None], clusters, seed=seed).to_json(),
                        "accuracy_vs_base": compare((m > 0).astype(float), (base[None] > 0).astype(float), clusters,
                                                    seed=seed).to_json()}
    return out


def paired(saved: dict, items: list[Item], a: str, b: str, *, seed: int = 0) -> dict:
    """{kind: {"margin", "accuracy"}}: run a minus run b (names in a saved --out file's margins), per kind, paired on
    the same items (eval.stats.compare, clustered by item cluster)."""
    if len(items) != saved["items"]:
        raise ValueError(f"the saved file was scored on {saved['items']} items, these suites have {len(items)}: "
                         f"give --suite the suites it was scored on")
    missing = [name for name in (a, b) if name not in saved["margins"]]
    if missing:
        raise ValueError(f"no margins for {', '.join(missing)} (the file has {', '.join(saved['margins'])})")
    out = {}
    for kind in sorted({i.kind for i in items}):
        idx = [k for k, i in enumerate(items) if i.kind == kind]
        clusters = [items[k].cluster for k in idx]
        ma, mb = (np.asarray(saved["margins"][name], dtype=np.float64)[idx][None] for name in (a, b))
        out[kind] = {"margin": compare(ma, mb, clusters, seed=seed).to_json(),
                     "accuracy": compare((ma > 0).astype(float), (mb > 0).astype(float), clusters, seed=seed).to_json()}
    return out


def paired_lines(result: dict, a: str, b: str) -> list[str]:
    lines = []
    for kind, r in result.items():
        m, acc = r["margin"], r["accuracy"]
        lines.append(f"{kind} ({m['diff']['n']} items), {a} minus {b}: margin {m['diff']['value']:+.4f} "
                     f"[{m['diff']['lo']:+.4f}, {m['diff']['hi']:+.4f}] p {m['p_bootstrap']:.3f}; accuracy "
                     f"{acc['diff']['value']:+.3f} [{acc['diff']['lo']:+.3f}, {acc['diff']['hi']:+.3f}] "
                     f"McNemar p {acc['p_mcnemar']:.3f}")
    return lines


def table(results: dict) -> str:
    """Markdown: per kind and setting, accuracy, margin and the margin's paired difference to the base."""
    lines = []
    for kind, rows in results.items():
        lines += [f"\n{kind} ({rows['base']['margin']['n']} items)", "",
                  "| setting | seeds | accuracy | margin | Δ margin vs base | p |", "|---|---|---|---|---|---|"]
        for setting, r in rows.items():
            acc, mar = r["accuracy"], r["margin"]
            delta = r.get("margin_vs_base")
            d = f"{delta['diff']['value']:+.4f} [{delta['diff']['lo']:+.4f}, {delta['diff']['hi']:+.4f}]" if delta else "–"
            p = f"{delta['p_bootstrap']:.3f}" if delta else "–"
            lines.append(f"| {setting} | {r.get('seeds', 1)} | {acc['value']:.3f} | {mar['value']:+.4f} | {d} | {p} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run folders (train.py --out); runs whose config.json differ only in the seed are grouped")
    parser.add_argument("--suite", action="append", default=[],
                        help="validation suite file or folder of them (default: data/validation/; the second set: data/validation2)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--cache-dir", default="")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default="", help="write the results as JSON here")
    parser.add_argument("--from", dest="saved", default="", help="a saved --out file, for --paired")
    parser.add_argument("--paired", nargs=2, metavar=("A", "B"), help="run A minus run B from --from (no scoring)")
    args = parser.parse_args(argv)
    paths = [f for p in map(Path, args.suite) for f in (validation_suites(p) if p.is_dir() else [p])]
    items = [i for i in read_suites(paths or validation_suites()) if len(i.options) == 2]
    if not items:
        sys.exit("error: no two-option validation items (data/validation/*.jsonl or --suite)")
    if args.paired or args.saved:
        if not (args.paired and args.saved) or args.runs:
            sys.exit("error: --paired A B goes with --from FILE and no run folders")
        try:
            print("\n".join(paired_lines(paired(json.loads(Path(args.saved).read_text()), items, *args.paired),
                                          *args.paired)))
        except (OSError, ValueError) as e:
            sys.exit(f"error: {args.saved}: {e}")
        return
    if not args.runs:
        sys.exit("error: give run folders to score (or --from FILE --paired A B)")
    cfg = ScoringConfig(args.batch_size, resolve_precision(args.precision, "cpu"))
    try:  # every run folder checked before the first model is scored
        runs = {Path(r).name: adapter_folder(r) for r in args.runs}
    except FileNotFoundError as e:
        sys.exit(f"error: {e}")
    settings = groups({name: {"adapter": str(run)} for name, run in runs.items()})
    scores = {name: margins(score_model(name, run, items, cfg, args.model, args.cache_dir or None))
              for name, run in {"base": None, **runs}.items()}
    results = {}
    for kind in sorted({i.kind for i in items}):
        idx = [k for k, i in enumerate(items) if i.kind == kind]
        clusters = [items[k].cluster for k in idx]
        per_run = {n: m[idx] for n, m in scores.items() if n != "base"}
        results[kind] = summarise(per_run, scores["base"][idx], clusters, settings)
    print(table(results))
    if args.out:
        write_text(Path(args.out), json.dumps({"items": len(items), "results": results,
                                               "margins": {n: m.tolist() for n, m in scores.items()}}, indent=1))


if __name__ == "__main__":
    main()
