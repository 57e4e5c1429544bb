"""The evaluation report: report.md (one table), results.json (every number) and PNG plots.

Table rows are the base model and each run; cells are "value [95% CI low, high]". Plots (matplotlib, Agg):
metrics.png (one panel a metric, one bar a model, CI error bars) and compliance.png (compliance accuracy
in-domain versus held-out-domain, per model).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from dpo.files import atomic_write, write_text

# (column header, path into a model's results); the choice and bias paths use the length-normalised variant.
COLUMNS = [
    ("compliance", ("choice", "mean", "compliance", "accuracy")),
    ("compliance in-domain", ("choice", "mean", "compliance", "accuracy_in_domain")),
    ("compliance held-out", ("choice", "mean", "compliance", "accuracy_held_out")),
    ("fact", ("choice", "mean", "fact", "accuracy")),
    ("rigidity-respect", ("choice", "mean", "rigidity", "accuracy")),
    ("bias pair gap ↓", ("bias", "mean", "pair_gap")),
    ("selection ratio (≥0.8)", ("bias", "mean", "selection_ratio")),
    ("logit gap ↓", ("bias", "mean", "logit_gap")),
    ("open common-good", ("open", "greedy", "common_good")),
    ("open judge", ("open", "greedy", "judge_common_good")),
    ("narrative", ("open", "greedy", "narrative")),
    ("moralising", ("open", "greedy", "moralising")),
    ("refusal", ("open", "greedy", "refusal")),
    ("distinct-2", ("open", "greedy", "distinct_2")),
    ("length (words)", ("open", "greedy", "length")),
    ("drift KL ↓", ("drift", "kl")),
    ("perplexity", ("drift", "perplexity")),
    ("reward acc exposure", ("heldout", "exposure", "reward_accuracy")),
    ("reward margin exposure", ("heldout", "exposure", "reward_margin")),
    ("reward acc legends", ("heldout", "legends", "reward_accuracy")),
    ("reward margin legends", ("heldout", "legends", "reward_margin")),
]


def lookup(model: dict, path: tuple[str, ...]):
    """The value at `path` (an Estimate dict or a number), or None when absent."""
    for key in path:
        if not isinstance(model, dict) or key not in model:
            return None
        model = model[key]
    return model


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        if value["value"] is None or math.isnan(value["value"]):
            return "n/a"
        if value["lo"] is None or math.isnan(value["lo"]):
            return f"{value['value']:.3f}"
        return f"{value['value']:.3f} [{value['lo']:.2f}, {value['hi']:.2f}]"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(results: dict) -> str:
    """The markdown table: a row a model, a column a metric present for at least one model."""
    models = results["models"]
    columns = [(h, p) for h, p in COLUMNS if any(lookup(m, p) is not None for m in models.values())]
    lines = ["| model | " + " | ".join(h for h, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, m in models.items():
        lines.append(f"| {name} | " + " | ".join(cell(lookup(m, p)) for _, p in columns) + " |")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    items = ", ".join(f"{k}: {n}" for k, n in results["items"].items())
    pairs = ", ".join(f"{k}: {n}" for k, n in results.get("test_pairs", {}).items()) or "none (base only)"
    seconds = ", ".join(f"{k} {m['seconds']:.0f} s" for k, m in results["models"].items())
    cfg = results["config"]
    return (f"# Evaluation report\n\nModel `{cfg['model']}`, precision {cfg['precision']}, seed {cfg['seed']}. "
            f"Items per kind: {items}. Test pairs: {pairs}. Time: {seconds}.\n\n"
            f"Cells are value [95% bootstrap CI]. Forced choice uses length-normalised log-probs (the sum variant "
            f"is in results.json); open-generation proxies are over greedy answers (sampled answers in "
            f"results.json). ↓ = lower is better.\n\n{table(results)}\n\n"
            f"![metrics](metrics.png)\n\n![compliance](compliance.png)\n")


def plot_metrics(results: dict, path: Path) -> None:
    """One panel a metric (Estimate-valued columns present for some model), one bar a model, CI bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = list(results["models"])
    columns = [(h, p) for h, p in COLUMNS
               if any(isinstance(lookup(m, p), dict) for m in results["models"].values())]
    cols = 4
    rows = max(1, math.ceil(len(columns) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (header, p) in zip(axes.flat, columns):
        values = [lookup(results["models"][m], p) or {"value": math.nan, "lo": math.nan, "hi": math.nan} for m in models]
        y = [v["value"] for v in values]
        err = [[max(0.0, v["value"] - v["lo"]) if not math.isnan(v["lo"]) else 0 for v in values],
               [max(0.0, v["hi"] - v["value"]) if not math.isnan(v["hi"]) else 0 for v in values]]
        ax.bar(range(len(models)), y, yerr=err, capsize=3, color=[f"C{i}" for i in range(len(models))])
        ax.set_title(header, fontsize=9)
        ax.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_compliance(results: dict, path: Path) -> None:
    """Compliance accuracy in-domain vs held-out-domain, grouped by model, with CI bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = list(results["models"])
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(models) + 2), 3.2))
    for j, (label, key) in enumerate((("in-domain", "accuracy_in_domain"), ("held-out", "accuracy_held_out"))):
        values = [lookup(results["models"][m], ("choice", "mean", "compliance", key)) for m in models]
        values = [v or {"value": math.nan, "lo": math.nan, "hi": math.nan} for v in values]
        x = [i + (j - 0.5) * 0.38 for i in range(len(models))]
        err = [[0 if math.isnan(v["lo"]) else max(0.0, v["value"] - v["lo"]) for v in values],
               [0 if math.isnan(v["hi"]) else max(0.0, v["hi"] - v["value"]) for v in values]]
        ax.bar(x, [v["value"] for v in values], width=0.38, yerr=err, capsize=3, label=label)
    ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel("compliance accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def write_report(results: dict, out_dir: str | os.PathLike) -> Path:
    """report.md, results.json, metrics.png and compliance.png in out_dir (each written atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "results.json", json.dumps(results, indent=1, allow_nan=True))
    plot_metrics(results, out / "metrics.png")
    plot_compliance(results, out / "compliance.png")
    write_text(out / "report.md", markdown(results))
    return out / "report.md"


def log_wandb(results: dict, out_dir: str | os.PathLike, project: str) -> None:
    """The table (one row a model) and the plots to Weights & Biases (WANDB_MODE=offline works offline)."""
    import wandb
    out = Path(out_dir)
    run = wandb.init(project=project, job_type="evaluation", name=f"eval-{out.name}", config=results["config"], dir=str(out))
    columns = [h for h, _ in COLUMNS]
    rows = [[name] + [(lambda v: v["value"] if isinstance(v, dict) else v)(lookup(m, p)) for _, p in COLUMNS]
            for name, m in results["models"].items()]
    run.log({"evaluation": wandb.Table(columns=["model"] + columns, data=rows),
             "metrics": wandb.Image(str(out / "metrics.png")), "compliance": wandb.Image(str(out / "compliance.png"))})
    run.finish()
