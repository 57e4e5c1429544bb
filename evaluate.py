"""Evaluate the base model and tuned adapters on the evaluation suites; write report.md, results.json, plots.

  python evaluate.py                                  # the embedded base model on the project suites
  python evaluate.py --runs 'runs/*'                  # each run's adapter plus the base, one comparison
  python evaluate.py --adapter runs/a/adapter --suite my_suite.jsonl --limit 0
"""
from __future__ import annotations

import argparse
import sys

from dpo.data import DataError
from dpo.lora import AdapterError
from dpo.models import ModelError
from eval.judge import JudgeError
from eval.pipeline import EvalConfig, run
from eval.report import log_wandb, write_report


def parse_args(argv: list[str] | None = None) -> EvalConfig:
    d = EvalConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=d.model, help=f"base model name, folder or .gguf (default: {d.model})")
    p.add_argument("--cache-dir", default=d.cache_dir)
    p.add_argument("--adapter", nargs="+", default=[], metavar="DIR", help="adapter folders (or run folders)")
    p.add_argument("--runs", nargs="+", default=[], metavar="GLOB", help="run folders holding adapter/, e.g. 'runs/*'")
    p.add_argument("--suite", nargs="+", default=[], metavar="FILE", help="suite JSONL files (default: project suites)")
    p.add_argument("--test-pairs", nargs="+", default=[], metavar="NAME=FILE",
                   help="held-out pair files for adapters' reward accuracy (default: exposure, and legends if built)")
    p.add_argument("--out", default=d.out, help=f"report folder (default: {d.out})")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, default=d.limit, help=f"items per kind, 0 = all (default: {d.limit})")
    p.add_argument("--max-test-pairs", type=int, default=d.max_test_pairs, help="per pair set, 0 = all")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=d.precision)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    p.add_argument("--wandb", action="store_true", help="log the table and plots to Weights & Biases")
    p.add_argument("--judge-url", default="", help="OpenAI-compatible server for an LLM judge, e.g. http://localhost:8000/v1")
    p.add_argument("--judge-model", default=d.judge_model)
    p.add_argument("--judge-key-env", default=d.judge_key_env, help="environment variable holding the judge's API key")
    a = p.parse_args(argv)
    return EvalConfig(model=a.model, cache_dir=a.cache_dir, adapters=a.adapter, runs=a.runs, suites=a.suite,
                      test_pairs=a.test_pairs, out=a.out, seed=a.seed, limit=a.limit, max_test_pairs=a.max_test_pairs,
                      precision=a.precision, batch_size=a.batch_size, max_new_tokens=a.max_new_tokens, wandb=a.wandb,
                      judge_url=a.judge_url, judge_model=a.judge_model, judge_key_env=a.judge_key_env)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    try:
        results = run(cfg)
    except (DataError, AdapterError, ModelError, JudgeError, FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    report = write_report(results, cfg.out)
    if cfg.wandb:
        log_wandb(results, cfg.out, cfg.wandb_project)
    print(report.read_text())
    print(f"wrote {report}, {report.parent / 'results.json'} and plots", file=sys.stderr)


if __name__ == "__main__":
    main()
