"""Run an experiment file: train its runs in sequence, evaluate them, write one report.

  python -m experiments.run experiments/strategies.py --dry-run    # the plan: status, settings, estimated time
  python -m experiments.run experiments/strategies.py              # train (skip, resume), evaluate, report
  python -m experiments.run experiments/beta.py --only beta0.5 --no-eval
  python -m experiments.run experiments/strategies.py --device cuda --batch-size 16 --epochs 4 --results experiments/results/gpu

Run folders go to <results>/<file>/<run>/; report.md, results.json, comparison.png and curves.png to
<results>/<file>/. A run already finished with the same resolved settings and the same data (the pair
files' SHA-256 in its config.json) is skipped, an interrupted one resumes, one whose settings or data changed
starts over (its old folder moves to stale/). Each model's evaluation is cached (<file>/evaluations/): an
unchanged run is not evaluated again. Every train.py flag given here overrides that field in every run;
--wandb puts all runs in one W&B group named after the file. See experiments/plan.py and budget.py.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import strategies
from dpo.config import TrainConfig, build_parser
from dpo.data import DataError
from dpo.files import write_text
from dpo.models import ModelError
from dpo.precision import resolve_precision
from dpo.run import git_commit
from dpo.tracking import plot_curves, read_metrics
from dpo.trainer import TrainingDiverged

from . import budget
from .plan import TO_TRAIN, Planned, describe, plan_runs, reference_key
from .spec import Experiment, load

RESULTS = Path("experiments/results")
ROOT = Path(__file__).resolve().parents[1]
NOT_OVERRIDABLE = ("config", "out", "resume", "seed")  # the file decides these per run


def parse_args(argv: list[str] | None):
    parser = build_parser(__doc__, strategies.CHOICES)
    parser.add_argument("file", help="experiments/FILE.py defining `runs = {name: TrainConfig}` (see experiments/spec.py)")
    parser.add_argument("--only", nargs="+", default=[], metavar="RUN", help="train and evaluate only these runs")
    parser.add_argument("--results", default=str(RESULTS), help=f"results folder (default: {RESULTS})")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and its estimated time, do nothing")
    parser.add_argument("--no-eval", action="store_true", help="train only")
    parser.add_argument("--re-eval", action="store_true", help="evaluate every run again, ignoring the cache")
    parser.add_argument("--eval-limit", type=int, default=None, help="items per suite kind (default: the file's)")
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if getattr(args, f.name, None) is not None}
    refused = [n for n in NOT_OVERRIDABLE if getattr(args, n, None) is not None]
    if refused:
        parser.error(f"--{', --'.join(refused)}: set per run by the experiment file (use --results for the folder)")
    return args, overrides


def select(exp: Experiment, only: list[str]) -> dict:
    unknown = [n for n in only if n not in exp.runs]
    if unknown:
        raise ValueError(f"{exp.name}: no run named {', '.join(unknown)} (has: {', '.join(exp.runs)})")
    return {name: run for name, run in exp.runs.items() if not only or name in only}


def prepare(exp: Experiment) -> None:
    """Run the file's preparation commands (a script of the repository, then its arguments)."""
    for argv in exp.prepare:
        command = [sys.executable, *argv] if argv[0].endswith(".py") else argv
        print(f"prepare: {' '.join(argv)}", file=sys.stderr)
        done = subprocess.run(command, cwd=ROOT)
        if done.returncode:
            print(f"prepare: {' '.join(argv)} failed (exit {done.returncode}); runs needing its data will fail",
                  file=sys.stderr)


def estimates(exp: Experiment, planned: list[Planned], root: Path) -> dict[str, float | None]:
    """{run: estimated seconds to finish it} for the runs to train, the runs whose data is missing (as new runs
    of max_train_pairs) and the unavailable runs (as they would be), see experiments/budget.py."""
    run_dirs = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    seen, out = set(), {}
    for p in planned:
        run = exp.runs[p.name]
        if p.status == "unavailable" and run.like is not None:
            out[p.name] = budget.run_seconds(run.like, run.like.max_train_pairs, 0, False, run_dirs, run.algo)
        elif p.status in TO_TRAIN + ("error",) and p.cfg is not None:
            key = reference_key(p) if p.data else p.name
            ref = p.status != "resume" and key is not None and key not in seen
            seen.add(key)
            pairs = p.pairs if p.data else p.cfg.max_train_pairs
            out[p.name] = budget.run_seconds(p.cfg, pairs, p.done_steps, ref, run_dirs)
    return out


def eval_models(planned: list[Planned]) -> dict[str, Path]:
    """{run: run folder} of the runs the evaluation scores: finished LoRA policies (not reward models)."""
    out = {}
    for p in planned:
        if p.status != "finished" or p.cfg.algo == "rm":
            continue
        if p.cfg.full_finetune:
            print(f"[{p.name}] full fine-tune: evaluate it with python evaluate.py --model {p.cfg.out}/model",
                  file=sys.stderr)
            continue
        out[p.name] = Path(p.cfg.out)
    return out


def eval_config(exp: Experiment, planned: list[Planned], root: Path, limit: int | None):
    from eval.pipeline import EvalConfig
    bases = {(p.cfg.model, p.cfg.cache_dir) for p in planned if p.cfg is not None}
    if len(bases) > 1:
        raise ValueError(f"the runs use different base models {sorted(bases)}; one comparison needs one base model")
    model, cache_dir = bases.pop() if bases else (exp.base.model, exp.base.cache_dir)
    cfg = EvalConfig(**{"model": model, "cache_dir": cache_dir, **exp.evaluation, "out": str(root)})
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, "cpu"))  # as run() will: the cache key
    return cfg if limit is None else dataclasses.replace(cfg, limit=limit)


def eval_estimate(cfg, to_evaluate: int, cache: Path) -> float | None:
    """Seconds to evaluate `to_evaluate` models: the cached evaluations' own times, else budget.eval_seconds."""
    from .evaluation import work
    seconds = [s for f in cache.glob("*.json") if (s := json.loads(f.read_text())["model"].get("seconds"))]
    per_model = statistics.median(seconds) if seconds else budget.eval_seconds(cfg.model, cfg.precision, *work(cfg),
                                                                                        cfg.max_new_tokens)
    return None if per_model is None else per_model * to_evaluate


def print_plan(exp: Experiment, path: str, planned: list[Planned], root: Path, eval_cfg) -> None:
    seconds = estimates(exp, planned, root)
    width = max(len(p.name) for p in planned) + 2
    print(f"experiment {exp.name} ({path}): {len(planned)} runs, results in {root}/")
    for argv in exp.prepare:
        print(f"  first: python {' '.join(argv)}")
    print(f"  {'run':<{width}}{'status':<13}{'estimate':>10}  settings (vs the file's base)")
    for p in planned:
        like = exp.runs[p.name].like if p.cfg is None else None
        settings = describe(p.cfg, exp.base) if p.cfg else f"algo={exp.runs[p.name].algo} {describe(like, exp.base)}" if like else ""
        note = f"  [{p.why}]" if p.why else ""
        estimate = budget.duration(seconds[p.name]) if p.name in seconds else ""
        print(f"  {p.name:<{width}}{p.status:<13}{estimate:>10}  {settings}{note}")
    by_status = {s: [p.name for p in planned if p.name in seconds and p.status in group]
                 for s, group in (("to train", TO_TRAIN), ("data missing", ("error",)), ("unavailable", ("unavailable",)))}
    parts = [f"{len(names)} {s} {budget.duration(sum(seconds[n] or 0 for n in names))}"
             for s, names in by_status.items() if names]
    print(f"training: {'; '.join(parts) or 'nothing to train'}")
    total = sum(s or 0 for s in seconds.values())
    if eval_cfg is not None:
        from .evaluation import pending
        policies = [p for p in planned if p.name in seconds or p.status == "finished"]
        policies = [p for p in policies if (exp.runs[p.name].algo if p.cfg is None else p.cfg.algo) != "rm"
                    and not (p.cfg and p.cfg.full_finetune)]
        finished_runs = {p.name: Path(p.cfg.out) for p in policies if p.status == "finished"}
        todo = pending(eval_cfg, finished_runs, root / "evaluations") + [p.name for p in policies if p.status != "finished"]
        ev = eval_estimate(eval_cfg, len(todo), root / "evaluations")
        print(f"evaluation: the base and {len(policies)} runs, {len(todo)} to evaluate "
              f"(limit {eval_cfg.limit or 'all'} items a kind), {budget.duration(ev)}")
        total += ev or 0
    print(f"total: about {budget.duration(total)}, all of the above (an estimate for 2 CPU cores, "
          f"experiments/budget.py; {step_sources(planned, exp, root)})")
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in exp.gpu.items())
    print(f"on a GPU: python -m experiments.run {path} --results {RESULTS}/gpu {flags}")


def step_sources(planned: list[Planned], exp: Experiment, root: Path) -> str:
    """The s/step figures the estimate used, and where each comes from."""
    run_dirs = [d for d in root.glob("*") if d.is_dir()]
    figures = {}
    for p in planned:
        run = exp.runs[p.name]
        cfg, algo = (p.cfg, p.cfg.algo) if p.cfg else (run.like, run.algo)
        if cfg is not None and (f := budget.step_seconds(cfg, run_dirs, algo)):
            figures[(cfg.model, algo)] = f
    return ", ".join(f"{model} {algo} {s:.2f} s/step ({source})" for (model, algo), (s, source) in figures.items())


def train(planned: list[Planned], root: Path) -> None:
    """Train each run to train in order; a failed run is marked and the runs needing it are blocked.
    Ctrl-C: the trainer saves a checkpoint, and the next call resumes there."""
    status = {p.name: p for p in planned}
    for p in planned:
        if p.status not in TO_TRAIN:
            continue
        missing = [n for n in p.needs if n in status and status[n].status != "finished"]
        if missing:
            p.status, p.why = "blocked", f"needs {', '.join(missing)} (not finished)"
            continue
        run_dir = Path(p.cfg.out)
        if p.status == "stale":
            moved = root / "stale" / f"{p.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            moved.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(run_dir), moved)
            print(f"[{p.name}] stale ({p.why}): moved to {moved}", file=sys.stderr)
        cfg = dataclasses.replace(p.cfg, resume=str(run_dir)) if p.status == "resume" else p.cfg
        print(f"[{p.name}] {'resuming' if p.status == 'resume' else 'training'} in {run_dir}", file=sys.stderr)
        try:
            strategies.train_one(cfg)
            p.status, p.why = "finished", ""
        except KeyboardInterrupt:
            sys.exit(f"[{p.name}] interrupted: run the same command again to resume")
        except (TrainingDiverged, DataError, ModelError, ValueError, FileNotFoundError, FileExistsError) as e:
            p.status, p.why = "failed", str(e)
            print(f"[{p.name}] failed: {e}", file=sys.stderr)


def run_table(exp: Experiment, planned: list[Planned]) -> tuple[str, dict]:
    """The report's table of runs (markdown) and the same for results.json."""
    rows, record = ["| run | settings (vs the file's base) | status | steps | training time |", "|---|---|---|---|---|"], {}
    for p in planned:
        metrics = read_metrics(Path(p.cfg.out)) if p.cfg and (Path(p.cfg.out) / "metrics.jsonl").is_file() else []
        seconds = sum(m.get("step_time", 0.0) for m in metrics)
        settings = describe(p.cfg, exp.base) if p.cfg else ""
        record[p.name] = {"status": p.status, "why": p.why, "settings": settings, "steps": len(metrics),
                          "training_seconds": seconds}
        status = p.status + (f" ({p.why})" if p.why else "")
        rows.append(f"| {p.name} | {settings} | {status} | {len(metrics)} | {budget.duration(seconds) if metrics else ''} |")
    return "\n".join(rows), record


def report(exp: Experiment, path: str, planned: list[Planned], root: Path, eval_cfg, force: bool, wandb: bool) -> None:
    """Evaluate (cached per model) and write <root>/report.md, results.json, comparison.png, curves.png."""
    from eval.report import log_wandb, write_report
    from .evaluation import evaluate
    models = eval_models(planned)
    table, record = run_table(exp, planned)
    results, evaluated = evaluate(models, eval_cfg, root / "evaluations", force=force)
    print(f"evaluated {', '.join(evaluated) or 'nothing new'} (the others from the cache)", file=sys.stderr)
    results["experiment"] = {"name": exp.name, "file": path, "git": git_commit(), "runs": record,
                             "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    written = write_report(results, root)
    if models:
        plot_curves(list(models.values()), root / "curves.png")
    commit = results["experiment"]["git"]["commit"] or "unknown"
    head = (f"# Experiment `{exp.name}`\n\n`python -m experiments.run {path}` at commit {commit[:10]}, "
            f"{results['experiment']['time']}. Training curves of every run: curves.png.\n\n{table}\n\n")
    write_text(written, head + written.read_text().replace("# Evaluation report", "## Evaluation", 1))
    if wandb:
        log_wandb(results, root, eval_cfg.wandb_project)
    print(written.read_text())


def main(argv: list[str] | None = None) -> None:
    args, overrides = parse_args(argv)
    try:
        exp = load(args.file)
        runs = select(exp, args.only)
        root = Path(args.results) / exp.name
        if args.wandb:
            os.environ["WANDB_RUN_GROUP"] = exp.name
        if not args.dry_run:
            prepare(exp)
        planned = plan_runs(runs, root, overrides)
        if args.wandb:
            for p in planned:
                if p.cfg is not None and not p.cfg.wandb_run_name:
                    p.cfg = dataclasses.replace(p.cfg, wandb_run_name=f"{exp.name}/{p.name}")
        eval_cfg = None if args.no_eval else eval_config(exp, planned, root, args.eval_limit)
        if args.dry_run:
            print_plan(exp, args.file, planned, root, eval_cfg)
            return
        train(planned, root)
        if not args.no_eval:
            report(exp, args.file, planned, root, eval_cfg, args.re_eval, bool(args.wandb))
    except (DataError, ModelError, ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    troubles = [p for p in planned if p.status in ("failed", "blocked", "error", "unavailable")]
    for p in troubles:
        print(f"[{p.name}] {p.status}: {p.why}", file=sys.stderr)
    if any(p.status in ("failed", "error") for p in troubles):
        sys.exit(1)


if __name__ == "__main__":
    main()
