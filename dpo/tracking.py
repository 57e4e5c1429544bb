"""Where metrics go: run_dir/metrics.jsonl (one JSON object a step, flushed at once) and, optionally,
Weights & Biases. WANDB_MODE=offline works with no network. Only settings and metrics are sent."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path


class MetricsLog:
    def __init__(self, run_dir: Path, *, wandb_project: str = "", wandb_run_name: str = "", config: dict | None = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.wandb = None
        if wandb_project:
            import wandb
            self.wandb = wandb.init(project=wandb_project, name=wandb_run_name or Path(run_dir).name,
                                    config=config or {}, dir=str(run_dir), resume="allow",
                                    id=_wandb_id(run_dir))

    def truncate_after(self, step: int) -> None:
        """Drop records past `step` (logged after the checkpoint a run resumes from), atomically."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        tmp = self.path.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

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


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def _plain(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _wandb_id(run_dir: Path) -> str:
    """A stable W&B run id per run folder, so that --resume continues the same W&B run."""
    import hashlib
    return hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]
