"""Where metrics go: run_dir/metrics.jsonl (one JSON object a step, flushed at once) and, optionally,
Weights & Biases. WANDB_MODE=offline works with no network. Only settings and metrics are sent.

run_dir/curves.png pictures a run (written at its end); to redraw it or compare runs on the same axes:
    python -m dpo.tracking plot RUN_DIR [RUN_DIR ...] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import math
import secrets
import sys
from pathlib import Path
from typing import Sequence

from .files import atomic_write, write_text

# curves.png: one panel a group of metrics; each also drawn from its held-out twin "eval/<name>" when logged
PANELS = {"loss": ("loss",), "reward accuracy and margin": ("rewards/accuracies", "rewards/margins"),
          "log-probs of chosen and rejected": ("logps/chosen", "logps/rejected"), "grad norm": ("grad_norm",),
          "learning rate": ("lr",)}
# rlhf/: reward model, PPO, GRPO (a figure holds the groups its runs logged)
RLHF_PANELS = {"reward-model accuracy and margin": ("accuracy", "margin"),
               "score and RLHF reward": ("objective/scores", "objective/rlhf_reward"), "KL to the reference": ("objective/kl",),
               "policy and value losses": ("loss/policy", "loss/value"), "entropy": ("policy/entropy",),
               "clip fraction and approx. KL": ("policy/clipfrac", "policy/approxkl")}


class MetricsLog:
    def __init__(self, run_dir: Path, *, wandb_project: str = "", wandb_run_name: str = "", config: dict | None = None,
                 resume: bool = False):
        """resume=True continues the W&B run of this folder (its id is kept in run_dir/wandb-id); a fresh run
        always starts a new W&B run, even in a reused folder. Steps re-logged after a resume carry the same
        numbers (exact resume) and W&B keeps the first copy."""
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.wandb = None
        if wandb_project:
            import wandb
            id_file = Path(run_dir) / "wandb-id"
            if not (resume and id_file.exists()):
                id_file.write_text(secrets.token_hex(8))
            self.wandb = wandb.init(project=wandb_project, name=wandb_run_name or Path(run_dir).name,
                                    config=config or {}, dir=str(run_dir), id=id_file.read_text().strip(),
                                    resume="allow" if resume else None)

    def truncate_after(self, step: int) -> None:
        """Drop records past `step` (logged after the checkpoint a run resumes from), atomically."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if _step(line) <= step]
        write_text(self.path, "".join(line + "\n" for line in kept))

    def log(self, metrics: dict, step: int) -> None:
        record = {"step": step, **{k: _plain(v) for k, v in metrics.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in record.items() if k != "step"}, step=step)

    def finish(self) -> None:
        if self.wandb is not None:
            self.wandb.finish()


class NullLog(MetricsLog):
    """The log of a rank other than 0 under torchrun: its metrics (the same, reduced over the ranks) are dropped."""
    def __init__(self, run_dir: Path):
        self.path, self.wandb = Path(run_dir) / "metrics.jsonl", None

    def truncate_after(self, step: int) -> None:
        pass

    def log(self, metrics: dict, step: int) -> None:
        pass


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def curves_figure(run_dirs: Sequence[str | Path]):
    """A matplotlib Figure (Agg canvas) with one panel per PANELS or RLHF_PANELS group that some run logged,
    against step: each metric of each run in its own colour, training solid, held-out (eval/) dashed with dots,
    on the same axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    labels = [Path(d).name for d in run_dirs]
    labels = labels if len(set(labels)) == len(labels) else [str(d) for d in run_dirs]  # folder names, if unique
    runs = {}
    for label, run_dir in zip(labels, run_dirs):
        runs[label] = read_metrics(Path(run_dir))
        if not runs[label]:
            raise ValueError(f"{run_dir}: no metrics.jsonl with records (not a run folder, or no step finished)")
    logged = {k for records in runs.values() for r in records for k in r}
    panels = {title: metrics for title, metrics in {**PANELS, **RLHF_PANELS}.items()
              if any(p + m in logged for m in metrics for p in ("", "eval/"))}
    cols, rows = 3, math.ceil(len(panels) / 3)
    fig = Figure(figsize=(4.6 * cols, 3.6 * rows))
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(rows, cols, squeeze=False).flat)
    for ax in axes[len(panels):]:
        ax.remove()
    for ax, (title, metrics) in zip(axes, panels.items()):
        colour = 0
        for run, records in runs.items():
            for name in metrics:
                for prefix, style in (("", {"lw": 1.0}), ("eval/", {"ls": "--", "marker": "o", "ms": 3})):
                    points = [(r["step"], r[prefix + name]) for r in records if r.get(prefix + name) is not None]
                    if points:
                        parts = [run] * (len(runs) > 1) + [name] * (len(metrics) > 1) + ["eval" if prefix else "train"]
                        ax.plot(*zip(*points), color=f"C{colour}", label=" ".join(parts), **style)
                colour += 1
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_curves(run_dirs: Sequence[str | Path], path: str | Path) -> Path:
    """Write curves_figure(run_dirs) to `path` as PNG, atomically."""
    fig = curves_figure(run_dirs)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    return Path(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dpo.tracking", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["plot"], help="draw training curves from metrics.jsonl")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", default=None, help="PNG to write (default: RUN_DIR/curves.png for one run, "
                                                     "curves.png here for several)")
    args = parser.parse_args(argv)
    out = args.out or (Path(args.runs[0]) / "curves.png" if len(args.runs) == 1 else Path("curves.png"))
    try:
        print(plot_curves(args.runs, out))
    except ValueError as e:
        sys.exit(f"error: {e}")


def _plain(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _step(line: str) -> float:
    """The step of a metrics line; a line cut short by a hard kill counts as past every step."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf


if __name__ == "__main__":
    main()
