"""What `python evaluate.py` costs on the embedded model, per unit of work, to choose --limit and check the budget:
seconds per scored option (forced choice, the shared-prompt path against whole sequences) and per generated
open answer (greedy).

  python bench/bench_eval.py [--items 16] [--threads 2] [--max-new-tokens 256] [--rounds 2]
The CPU may be shared with other work: the two scoring paths alternate and the best round is printed.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpo.data import Truncation  # noqa: E402
from dpo.models import load_model  # noqa: E402
from dpo.precision import autocast  # noqa: E402
from dpo.sampling import generate  # noqa: E402
from eval.scoring import ScoringConfig, batches, encode_item, shared_prompt_logps, whole_sequence_logps  # noqa: E402
from eval.suites import project_suites, read_suites, select  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=16, help="items per kind")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    items = select(read_suites(project_suites()), a.items)
    model, tok = load_model("smollm2-135m")
    cfg = ScoringConfig()
    choice = [i for i in items if i.options]
    encoded = [encode_item(tok, i, Truncation(cfg.max_length, cfg.max_prompt_length)) for i in choice]
    n = sum(len(e.options) for e in encoded)
    best = {"shared prompt": float("inf"), "whole sequences": float("inf")}
    for _ in range(a.rounds):  # alternated, so a change in the machine's load hits both
        for name, score in (("shared prompt", shared_prompt_logps), ("whole sequences", whole_sequence_logps)):
            start = time.time()
            with torch.no_grad(), autocast(torch.device("cpu"), cfg.precision):
                for group in batches(encoded, cfg.batch_size):
                    score(model, [encoded[i] for i in group], tok.pad_token_id)
            best[name] = min(best[name], time.time() - start)
    for name, dt in best.items():
        print(f"forced choice ({name:<15}) {n:4d} options {dt:7.1f} s = {dt / n:.3f} s/option "
              f"(best of {a.rounds}, {a.threads} threads)")
    prompts = [i.prompt for i in items if i.kind == "open"]
    start = time.time()
    generate(model, tok, prompts, max_new_tokens=a.max_new_tokens, batch_size=16)  # precision auto
    dt = time.time() - start
    print(f"open generation  {len(prompts):4d} prompts {dt:7.1f} s = {dt / len(prompts):.3f} s/prompt "
          f"(greedy, {a.max_new_tokens} new tokens, {a.threads} threads)")


if __name__ == "__main__":
    main()
