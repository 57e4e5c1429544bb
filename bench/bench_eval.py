"""What a default `python evaluate.py` costs on the embedded model, per unit of work, to choose --limit:
seconds per scored option (forced choice) and per generated answer (open generation, greedy).

  python bench/bench_eval.py [--items 16] [--threads 2] [--max-new-tokens 64]
The CPU may be shared with other work: run it twice and read the lower figures.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpo.models import load_model  # noqa: E402
from dpo.sampling import generate  # noqa: E402
from eval.pipeline import project_suites  # noqa: E402
from eval.scoring import ScoringConfig, score_items  # noqa: E402
from eval.suites import CHOICE_KINDS, read_suites, select  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=16, help="items per kind")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-new-tokens", type=int, default=64)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    items = select(read_suites(project_suites()), a.items)
    model, tok = load_model("smollm2-135m")
    for kind in CHOICE_KINDS:
        picked = [i for i in items if i.kind == kind]
        n = sum(len(i.options) for i in picked)
        start = time.time()
        score_items(model, tok, picked, ScoringConfig(batch_size=16, precision="bf16"))
        dt = time.time() - start
        print(f"forced choice {kind:<11} {n:4d} options {dt:7.1f} s = {dt / n:.3f} s/option ({a.threads} threads)")
    prompts = [i.prompt for i in items if i.kind == "open"]
    start = time.time()
    generate(model, tok, prompts, max_new_tokens=a.max_new_tokens, batch_size=16, precision="bf16")
    dt = time.time() - start
    print(f"open generation  {len(prompts):4d} prompts {dt:7.1f} s = {dt / len(prompts):.3f} s/prompt "
          f"(greedy, {a.max_new_tokens} new tokens, {a.threads} threads)")


if __name__ == "__main__":
    main()
