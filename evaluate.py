"""Evaluate the base model and tuned adapters on the evaluation suites; write report.md, results.json, comparison.png.

  python evaluate.py                                  # the embedded base model on the hand-written suites (data/eval/)
  python evaluate.py --runs 'runs/*'                  # each run's adapter plus the base, one comparison
  python evaluate.py --adapter runs/a/adapter --suite my_suite.jsonl --limit 0
  python evaluate.py --bbq BBQ_FILE.jsonl [--adapter DIR] [--no-suites]    # BBQ's accuracy, s_DIS and s_AMB
  torchrun --nproc_per_node N evaluate.py ...         # scoring, open answers, drift shared by N processes (gloo)
"""
from __future__ import annotations

import argparse
import sys

from dpo import distributed
from dpo.data import DataError
from dpo.lora import AdapterError
from dpo.models import ModelError
from dpo.precision import CHOICES as PRECISION_CHOICES
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
    p.add_argument("--suite", nargs="+", default=[], metavar="FILE", help="suite JSONL files (default: data/eval/*.jsonl)")
    p.add_argument("--no-suites", action="store_true", help="evaluate only --bbq")
    p.add_argument("--bbq", default="", metavar="FILE", help="a file in BBQ's own JSONL format")
    p.add_argument("--bbq-limit", type=int, default=d.bbq_limit, help="a seeded sample of BBQ examples, 0 = all")
    p.add_argument("--no-training-data", action="store_true",
                   help="do not read the strategies' training pairs (the cue classifier control, fact seen/unseen)")
    p.add_argument("--labels", default="", metavar="FILE",
                   help="hand-labelled answers for the judges' agreement (default: data/eval/judge_labels.jsonl)")
    p.add_argument("--test-pairs", nargs="+", default=[], metavar="NAME=FILE",
                   help="held-out pair files for adapters' reward accuracy (default: exposure, and legends if built)")
    p.add_argument("--out", default=d.out, help=f"report folder (default: {d.out})")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, default=d.limit, help=f"items per kind, 0 = all, the study setting (default: {d.limit})")
    p.add_argument("--max-test-pairs", type=int, default=d.max_test_pairs, help="per pair set, 0 = all")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=d.precision,
                   help="auto: bf16 where the CPU multiplies it natively, else fp32 (dpo.precision)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="open answers' length in tokens")
    p.add_argument("--sampled", action="store_true", help="also a sampled pass of the open answers (proxies)")
    p.add_argument("--wandb", action="store_true", help="log the table and the plot to Weights & Biases")
    p.add_argument("--judge-url", default="", help="OpenAI-compatible server for an LLM judge, e.g. http://localhost:8000/v1")
    p.add_argument("--judge-model", default=d.judge_model)
    p.add_argument("--judge-key-env", default=d.judge_key_env, help="environment variable holding the judge's API key")
    a = p.parse_args(argv)
    return EvalConfig(model=a.model, cache_dir=a.cache_dir, adapters=a.adapter, runs=a.runs, suites=a.suite,
                      no_suites=a.no_suites, training_data=not a.no_training_data, bbq=a.bbq, bbq_limit=a.bbq_limit, labels=a.labels, test_pairs=a.test_pairs,
                      out=a.out, seed=a.seed, limit=a.limit, max_test_pairs=a.max_test_pairs, precision=a.precision,
                      batch_size=a.batch_size, max_new_tokens=a.max_new_tokens, sampled=a.sampled, wandb=a.wandb,
                      judge_url=a.judge_url, judge_model=a.judge_model, judge_key_env=a.judge_key_env)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    try:
        distributed.setup("ddp" if distributed.launched() else "none", "cpu")  # the pipeline scores on the CPU
        writer = distributed.is_main()  # rank 0 writes the report
        results = run(cfg)
    except (DataError, AdapterError, ModelError, JudgeError, FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    finally:
        distributed.teardown()
    if not writer:
        return
    report = write_report(results, cfg.out)
    if cfg.wandb:
        log_wandb(results, cfg.out, cfg.wandb_project)
    print(report.read_text())
    print(f"wrote {report}, {report.parent / 'results.json'} and {report.parent / 'comparison.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
