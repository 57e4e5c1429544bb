"""The evaluation report: report.md, results.json (every number) and comparison.png.

report.md, main table: a row per model (runs of one setting that differ only in the seed are one row: mean
over seeds, interval over seeds and clustered items), a "Δ vs base" row per tuned model (paired difference,
its interval, the bootstrap p-value and, for single runs, McNemar's), then a row per cue rule (the score a
surface rule gets on the same items: the control). Cells are "value [95% CI]". Then tables for the
comparisons between tuned models, the open answers' proxies and judges, drift and held-out pairs, decision
types, BBQ, and the judges' agreement with the hand labels.
comparison.png: one bar group per model (and one for the best cue rule) with CI bars: rates in one panel,
gaps in another (a panel only when it has bars).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from dpo.files import atomic_write, write_text
from eval.metrics import METRIC_BY_KEY, METRICS

PLOT = "comparison.png"


def lookup(obj, path: tuple[str, ...]):
    """The value at `path` (an Estimate dict or a number), or None when absent."""
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict) and "value" in value:
        if nan(value["value"]):
            return "n/a"
        if nan(value["lo"]):
            return f"{value['value']:.3f}"
        return f"{value['value']:.3f} [{value['lo']:.2f}, {value['hi']:.2f}]"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def p_text(p) -> str:
    return "n/a" if nan(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def diff_cell(comparison) -> str:
    if comparison is None:
        return "–"
    d = comparison["diff"]
    if nan(d["value"]):
        return "n/a"
    text = f"{d['value']:+.3f} [{d['lo']:+.2f}, {d['hi']:+.2f}] p={p_text(comparison['p_bootstrap'])}"
    return text + (f" (McNemar {p_text(comparison['p_mcnemar'])})" if comparison.get("p_mcnemar") is not None else "")


def metric_keys(results: dict) -> list[str]:
    present = {k for g in results.get("groups", {}).values() for k in g["metrics"]}
    return [m.key for m in METRICS if m.key in present]


def main_table(results: dict) -> str:
    keys = metric_keys(results)
    if not keys:
        return ""
    lines = ["| model | " + " | ".join(METRIC_BY_KEY[k].header for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for label, g in results["groups"].items():
        lines.append(f"| {label} | " + " | ".join(cell(g["metrics"].get(k)) for k in keys) + " |")
    for label, comps in results.get("vs_base", {}).items():
        lines.append(f"| Δ {label} − base | " + " | ".join(diff_cell(comps.get(k)) for k in keys) + " |")
    for rule, scores in results.get("cue_controls", {}).items():
        if scores:
            lines.append(f"| cue: {rule.replace('_', ' ')} | " + " | ".join(cell(scores.get(k)) for k in keys) + " |")
    return "\n".join(lines)


def against_cue_table(results: dict) -> str:
    """Δ to the base on the items each classifier cue rule gets wrong (n: how many), a row per rule and tuned group."""
    rows = [(rule, label, comps) for rule, by_label in (results.get("against_cue") or {}).items()
            for label, comps in by_label.items() if comps]
    keys = [k for k in metric_keys(results) if any(k in c for _, _, c in rows)]
    if not keys:
        return ""
    lines = ["| cue rule wrong on the item | model | " + " | ".join(METRIC_BY_KEY[k].header for k in keys) + " |",
             "|---" * (len(keys) + 2) + "|"]
    for rule, label, comps in rows:
        cells = [f"{diff_cell(comps[k])} n={comps[k]['diff']['n']}" if k in comps else "–" for k in keys]
        lines.append(f"| {rule.replace('_', ' ')} | Δ {label} − base | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def between_table(results: dict) -> str:
    between = results.get("between") or {}
    keys = [k for k in metric_keys(results) if any(k in c for c in between.values())]
    if not keys:
        return ""
    lines = ["| comparison | " + " | ".join(METRIC_BY_KEY[k].header for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(diff_cell(c.get(k)) for k in keys) + " |" for name, c in between.items()]
    return "\n".join(lines)


DETAILS = [
    ("length (words)", ("open", "greedy", "length")),
    ("asks ?", ("open", "greedy", "asks")),
    ("specifics /100 words", ("open", "greedy", "specifics")),
    ("moralising", ("open", "greedy", "moralising")),
    ("refusal", ("open", "greedy", "refusal")),
    ("distinct-2", ("open", "greedy", "distinct_2")),
    ("embedding: neither", ("open", "embed_neither")),
    ("judge common-good", ("open", "judge", "common_good")),
    ("judge factual", ("open", "judge", "factual")),
    ("judge preachy", ("open", "judge", "preachy")),
    ("judge engaging", ("open", "judge", "engaging")),
    ("selection ratio (≥0.8)", ("bias", "selection_ratio")),
    ("drift KL ↓", ("drift", "kl")),
    ("perplexity", ("drift", "perplexity")),
    ("reward acc exposure", ("heldout", "exposure", "reward_accuracy")),
    ("reward margin exposure", ("heldout", "exposure", "reward_margin")),
    ("reward acc legends", ("heldout", "legends", "reward_accuracy")),
    ("reward margin legends", ("heldout", "legends", "reward_margin")),
    ("truncated items", ("truncated_items",)),
]


def details_table(results: dict) -> str:
    """A row per run: the per-run numbers that are not in the main table."""
    models = results["models"]
    columns = [(h, p) for h, p in DETAILS if any(lookup(m, p) is not None for m in models.values())]
    if not columns:
        return ""
    lines = ["| run | " + " | ".join(h for h, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(lookup(m, p)) for _, p in columns) + " |" for name, m in models.items()]
    return "\n".join(lines)


def decisions_table(results: dict) -> str:
    rows = [(name, dtype, d) for name, m in results["models"].items() for dtype, d in (m.get("decisions") or {}).items()]
    if not rows:
        return ""
    lines = ["| run | decision type | pairs | p(yes) by group | logit gap [CI] |", "|---|---|---|---|---|"]
    for name, dtype, d in rows:
        groups = ", ".join(f"{g} {p:.3f}" for g, p in d["p_yes"].items())
        lines.append(f"| {name} | {dtype} | {d['pairs']} | {groups} | {cell(d['gap'])} |")
    return "\n".join(lines)


def bbq_table(results: dict) -> str:
    bbq = results.get("bbq")
    if not bbq:
        return ""
    keys = ("accuracy_ambig", "accuracy_disambig", "s_DIS", "s_AMB")
    lines = [f"BBQ file `{bbq['file']}`, {bbq['examples']} examples (scores -1..1; the paper shows them x100).", "",
             "| run | " + " | ".join(keys) + " | dropped (no target) |", "|---" * (len(keys) + 2) + "|"]
    for name, s in bbq["models"].items():
        lines.append(f"| {name} | " + " | ".join(cell(s["overall"].get(k)) for k in keys) + f" | {s['dropped_no_target']} |")
    return "\n".join(lines)


def agreement_text(results: dict) -> str:
    a = results.get("judge_agreement")
    if not a:
        return ""
    e = a["embedding"]
    text = (f"Judges against {a['answers']} hand-labelled answers (`{a['file']}`): embedding judge accuracy "
            f"{cell(e['accuracy'])}, Cohen's kappa {cell(e['kappa'])} (n={e['n']}).")
    if "llm" in a:
        parts = [f"{c} weighted kappa {cell(v['weighted_kappa'])} (n={v['n']})" for c, v in a["llm"].items() if c != "recommends"]
        r = a["llm"]["recommends"]
        text += f" LLM judge: {'; '.join(parts)}; recommends accuracy {cell(r['accuracy'])}, kappa {cell(r['kappa'])}."
    return text


def markdown(results: dict) -> str:
    cfg = results["config"]
    items = ", ".join(f"{k}: {n}" for k, n in results["items"].items()) or "none"
    pairs = ", ".join(f"{k}: {n}" for k, n in results.get("test_pairs", {}).items()) or "none"
    seconds = ", ".join(f"{k} {m['seconds']:.0f} s" for k, m in results["models"].items())
    parts = [f"# Evaluation report\n\nModel `{cfg['model']}`, precision {cfg['precision']}, seed {cfg['seed']}, "
             f"limit {cfg['limit'] or 'all'}. Items: {items}. Test pairs: {pairs}. Time: {seconds}.",
             "Cells are value [95% bootstrap CI] (clusters: situations; runs of several seeds: mean over seeds, CI over "
             "seeds and clusters). Forced choice uses length-normalised log-probs. Δ rows: paired difference to the base "
             "on the same items, bootstrap p-value (McNemar's exact test for single runs). Cue rows: the score of a "
             "surface rule on the same items (0.5 = the suite does not reward it). ↓ = lower is better."]
    for title, body in (("", main_table(results)),
                        ("## Against the cue\n\nThe Δ rows again, on only the items where a word regression trained on "
                         "a training pair set picks the wrong option (its cue row scores 0 there): a gain here is not "
                         "that cue's.", against_cue_table(results)),
                        ("## Between tuned models", between_table(results)),
                        ("## Per run", details_table(results)), ("## Decisions by type", decisions_table(results)),
                        ("## BBQ", bbq_table(results)), ("## Judges", agreement_text(results))):
        if body:
            parts.append(f"{title}\n\n{body}" if title else body)
    if (results.get("groups") and metric_keys(results)):
        parts.append(f"![comparison]({PLOT})")
    return "\n\n".join(parts) + "\n"


def plot(results: dict, path: Path) -> bool:
    """comparison.png (see the module docstring); False (no file) when no metric has a value."""
    keys = [k for k in metric_keys(results)
            if any(not nan(lookup(g, ("metrics", k, "value"))) for g in results["groups"].values())]
    panels = [p for p in ([k for k in keys if not METRIC_BY_KEY[k].lower_is_better],
                          [k for k in keys if METRIC_BY_KEY[k].lower_is_better]) if p]
    if not panels:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bars = {label: g["metrics"] for label, g in results["groups"].items()}
    cues = results.get("cue_controls", {})
    best = {k: max((s[k] for s in cues.values() if k in s and not nan(s[k]["value"])), key=lambda e: e["value"], default=None)
            for k in keys}
    if any(best.values()):
        bars["cue (best rule)"] = {k: v for k, v in best.items() if v}
    colours = plt.get_cmap("tab20")
    widths = [max(4.0, 0.3 * len(bars) * len(panel) + 1.5) for panel in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(sum(widths), 4.2), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    for ax, panel in zip(axes[0], panels):
        labels = [label for label in bars if any(k in bars[label] for k in panel)]
        width = 0.8 / len(panel)
        for j, k in enumerate(panel):
            est = [bars[label].get(k) for label in labels]
            y = [e["value"] if e else math.nan for e in est]
            err = [[0 if not e or nan(e["lo"]) else max(0.0, e["value"] - e["lo"]) for e in est],
                   [0 if not e or nan(e["hi"]) else max(0.0, e["hi"] - e["value"]) for e in est]]
            ax.bar([i + (j - (len(panel) - 1) / 2) * width for i in range(len(labels))], y, width=width, yerr=err,
                   capsize=2, label=METRIC_BY_KEY[k].header, color=colours(keys.index(k) % 20))
        ax.set_xticks(range(len(labels)), labels, rotation=15, ha="right", fontsize=8)
        rates = not METRIC_BY_KEY[panel[0]].lower_is_better
        ax.set_ylabel("rate (higher is better)" if rates else "gap (lower is better)")
        if rates:
            ax.set_ylim(0, 1.05)
            ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(0, -0.18) if rates else None)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return True


def write_report(results: dict, out_dir: str | os.PathLike) -> Path:
    """report.md, results.json and comparison.png in out_dir (each written atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "results.json", json.dumps(results, indent=1, allow_nan=True))
    if not plot(results, out / PLOT):
        (out / PLOT).unlink(missing_ok=True)
    write_text(out / "report.md", markdown(results))
    return out / "report.md"


def log_wandb(results: dict, out_dir: str | os.PathLike, project: str) -> None:
    """The main table (one row a model) and the plot to Weights & Biases (WANDB_MODE=offline works offline)."""
    import wandb
    out = Path(out_dir)
    run = wandb.init(project=project, job_type="evaluation", name=f"eval-{out.name}", config=results["config"], dir=str(out))
    keys = metric_keys(results)
    rows = [[label] + [lookup(g, ("metrics", k, "value")) for k in keys] for label, g in results.get("groups", {}).items()]
    logged = {"evaluation": wandb.Table(columns=["model"] + [METRIC_BY_KEY[k].header for k in keys], data=rows)}
    if (out / PLOT).is_file():
        logged["comparison"] = wandb.Image(str(out / PLOT))
    run.log(logged)
    run.finish()
