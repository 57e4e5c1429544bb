"""Where metrics go: run_dir/metrics.jsonl (one JSON object a step, flushed at once) and, optionally,
Weights & Biases. WANDB_MODE=offline works with no network. Only settings and metrics are sent."""
from __future__ import annotations

import json
import math
import secrets
from pathlib import Path

from .files import write_text

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


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def _plain(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _step(line: str) -> float:
    """The step of a metrics line; a line cut short by a hard kill counts as past every step."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf
