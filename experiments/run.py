"""Run an experiment file: train every run it defines, then evaluate them all in one comparison.

  python -m experiments.run experiments/ablations.py                   # every run, then the report
  python -m experiments.run experiments/ablations.py --only exposure legends --eval-limit 20
  python -m experiments.run experiments/ablations.py --no-eval

Run folders go to experiments/results/<file>/<run>/ and the report to experiments/results/<file>/report/.
A finished run (adapter/ present) is not trained again; an interrupted one resumes where it stopped,
and a run folder whose saved settings differ from the file is an error, never silently reused.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import strategies
from dpo.config import TrainConfig, load_experiment, read_run_config, resume_conflicts, resumed
from dpo.run import run_training
from dpo.trainer import TrainingDiverged

RESULTS = Path("experiments/results")


def train_run(name: str, cfg: TrainConfig, out: Path) -> Path:
    """Train one run into `out`, or resume it, or skip it when it is finished."""
    if (out / "adapter" / "adapter_model.safetensors").exists() or (out / "model" / "config.json").exists():
        print(f"[{name}] finished earlier: {out}", file=sys.stderr)
        return out
    cfg = dataclasses.replace(cfg, out=str(out), resume="")
    if (out / "config.json").exists():
        saved = read_run_config(out)
        settings = dataclasses.asdict(cfg)
        differ = resume_conflicts(saved, settings)
        if differ:
            raise ValueError(f"[{name}] {out} was started with other settings ({', '.join(differ)}): "
                             "delete it or rename the run")
        cfg = resumed(saved, str(out), settings)
    print(f"[{name}] training into {out}", file=sys.stderr)
    return run_training(cfg, strategies.resolve(cfg))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="experiments/FILE.py defining `runs = {name: TrainConfig}` or `config`")
    parser.add_argument("--only", nargs="+", default=[], metavar="RUN", help="train and evaluate only these runs")
    parser.add_argument("--results", default=str(RESULTS), help=f"results folder (default: {RESULTS})")
    parser.add_argument("--no-eval", action="store_true", help="train only")
    parser.add_argument("--eval-limit", type=int, default=None, help="items per suite kind (default: evaluate.py's)")
    args = parser.parse_args(argv)
    try:
        runs = load_experiment(args.file)
        unknown = sorted(set(args.only) - set(runs))
        if unknown:
            raise ValueError(f"{args.file}: no run named {', '.join(unknown)} (has: {', '.join(runs)})")
        root = Path(args.results) / Path(args.file).stem
        chosen = {name: cfg for name, cfg in runs.items() if not args.only or name in args.only}
        folders, failed = {}, []
        for name, cfg in chosen.items():
            try:
                folders[name] = train_run(name, cfg, root / name)
            except TrainingDiverged as e:  # one diverged run does not stop the others
                print(f"[{name}] diverged: {e}", file=sys.stderr)
                failed.append(name)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    if failed:
        print(f"diverged runs (not evaluated): {', '.join(failed)}", file=sys.stderr)
    if args.no_eval or not folders:
        return
    from eval.pipeline import EvalConfig, run
    from eval.report import write_report
    adapters = {n: f for n, f in folders.items() if not chosen[n].full_finetune}
    for name in sorted(set(folders) - set(adapters)):
        print(f"[{name}] full fine-tune: evaluate it with python evaluate.py --model {folders[name] / 'model'}", file=sys.stderr)
    bases = {(chosen[n].model, chosen[n].cache_dir) for n in adapters}
    if len(bases) > 1:
        sys.exit(f"error: the runs use different base models {sorted(bases)}; one comparison needs one base model")
    if not adapters:
        return
    model, cache_dir = bases.pop()
    eval_cfg = EvalConfig(model=model, cache_dir=cache_dir, adapters=[str(f) for f in adapters.values()],
                          out=str(root / "report"), seed=chosen[next(iter(adapters))].seed)
    if args.eval_limit is not None:
        eval_cfg = dataclasses.replace(eval_cfg, limit=args.eval_limit)
    report = write_report(run(eval_cfg), eval_cfg.out)
    print(report.read_text())


if __name__ == "__main__":
    main()
