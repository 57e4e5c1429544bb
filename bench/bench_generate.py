"""New tokens per second: plain HF generate (batch 16) against dpo.sampling (continuous batching), on the same
prompts, in one run, both at precision "auto" (bf16 where the CPU multiplies it natively, else fp32).

    python bench/bench_generate.py [--model smollm2-135m] [--prompts 64] [--max-new-tokens 128]
                                   [--batch-sizes 16 32 64] [--skip-hf] [--workload short|legends]

Workloads: "short", one-line requests for a short story (dpo.sampling.generate); "legends", the chats that
generate.py sends (two authored few-shot examples, about 800 prompt tokens, then a legend request) through
legends.backends.LocalBackend (continuous batching, example prefixes computed once). All sample (temperature
0.7, top-p 0.9) with the same settings; a token counts up to and including the end-of-turn token. The machine
may be shared: the figures are noisy, so the thread count, the load and the CPU seconds used are printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from dpo.data import encode_prompt, end_of_turn_id  # noqa: E402
from dpo.models import load_model  # noqa: E402
from dpo.precision import autocast, resolve_precision  # noqa: E402
from dpo.sampling import SamplingConfig, generate_ids  # noqa: E402
from legends.backends import Job, LocalBackend, Sampling  # noqa: E402

TOPICS = ["a bakery that cuts food waste", "a factory that reports its emissions", "a shop owner who pays men and women equally",
          "a city that buys electric buses", "a family that insulates its house", "an office that hires fairly",
          "a farm that protects its soil", "a hotel that saves water"]


def bench_prompts(n: int, workload: str) -> list[str | list[dict]]:
    if workload == "short":
        return [f"Write a short story ({40 + 10 * (i % 5)} words) about {TOPICS[i % len(TOPICS)]}." for i in range(n)]
    from exposure.corpus import load_regulations
    from legends.prompts import few_shot, messages, read_examples, spec
    regulations, examples = load_regulations(), read_examples(ROOT / "data" / "legends" / "authored.jsonl")
    return [messages(s, "legend", 150, few_shot(s, examples, 2)) for s in (spec(i, regulations) for i in range(n))]


def hf_generate(model, tokenizer, prompts, *, max_new_tokens, batch_size, seed) -> int:
    """Plain transformers generate, left padding, autocast at precision "auto"; returns the number of new tokens."""
    tokenizer.padding_side = "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stop, total = end_of_turn_id(tokenizer), 0
    torch.manual_seed(seed)
    for start in range(0, len(prompts), batch_size):
        seqs = [encode_prompt(tokenizer, p) for p in prompts[start:start + batch_size]]
        length = max(map(len, seqs))
        ids = torch.tensor([[pad_id] * (length - len(s)) + s for s in seqs])
        mask = torch.tensor([[0] * (length - len(s)) + [1] * len(s) for s in seqs])
        with torch.inference_mode(), autocast("cpu", "auto"):
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=True,
                                 temperature=0.7, top_p=0.9, top_k=0, eos_token_id=stop, pad_token_id=pad_id)
        new = out[:, length:]
        ended = (new == stop).int()
        # tokens up to and including the first end-of-turn; rows that never stop count all
        first = torch.where(ended.any(-1), ended.argmax(-1) + 1, torch.full_like(ended[:, 0], new.shape[1]))
        total += int(first.sum())
    return total


def ours(model, tokenizer, prompts, *, max_new_tokens, batch_size, seed) -> int:
    cfg = SamplingConfig(max_new_tokens, temperature=0.7, top_p=0.9, seed=seed)
    new = generate_ids(model, [encode_prompt(tokenizer, p) for p in prompts], cfg, pad_id=tokenizer.pad_token_id,
                       stop_id=end_of_turn_id(tokenizer), batch_size=batch_size)  # precision auto
    return sum(len(ids) + (len(ids) < max_new_tokens) for ids in new)  # + the end of turn, where one was drawn


def ours_legends(model, tokenizer, chats, *, max_new_tokens, batch_size, seed) -> int:
    """generate.py's engine: LocalBackend.stream over the chats, the example turns shared."""
    backend = LocalBackend(loaded=(model, tokenizer), batch_size=batch_size)
    jobs = [Job(key=i, messages=c, seed=seed + i, max_new_tokens=max_new_tokens, shared=len(c) - 1)
            for i, c in enumerate(chats)][::-1]
    results = backend.stream(lambda: jobs.pop() if jobs else None, Sampling(0.7, 0.9, max_new_tokens))
    return sum(r.tokens + (r.finish == "end") for r in results)


def timed(fn, *args, **kwargs) -> tuple[int, float, float]:
    """(fn's token count, wall seconds, CPU seconds of this process: on a shared machine, the steadier figure)."""
    t0, c0 = time.perf_counter(), time.process_time()
    n = fn(*args, **kwargs)
    return n, time.perf_counter() - t0, time.process_time() - c0


def report(n: int, wall: float, cpu: float) -> str:
    return f"{n:6d} tokens in {wall:6.1f} s = {n / wall:6.1f} tokens/s  (CPU {cpu:6.1f} s = {n / cpu:6.1f} tokens per CPU-second)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--workload", choices=("short", "legends"), default="short")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model, tokenizer = load_model(args.model)
    prompts = bench_prompts(args.prompts, args.workload)
    print(f"torch threads: {torch.get_num_threads()}, cpus: {os.cpu_count()}, load average: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (shared machine: figures are noisy)")
    prompt_tokens = sum(len(encode_prompt(tokenizer, p)) for p in prompts) / len(prompts)
    print(f"model {args.model}, workload {args.workload}: {len(prompts)} prompts of {prompt_tokens:.0f} tokens on "
          f"average, max_new_tokens {args.max_new_tokens}, sampling temperature 0.7 top-p 0.9")
    precision = resolve_precision("auto", "cpu")  # what both engines run at (the labels say it)
    ours(model, tokenizer, prompts[:2], max_new_tokens=4, batch_size=2, seed=0)  # warm-up
    if not args.skip_hf:
        n, s, cpu = timed(hf_generate, model, tokenizer, prompts, max_new_tokens=args.max_new_tokens, batch_size=16,
                     seed=args.seed)
        print(f"HF generate      batch 16  {precision:4s} autocast : {report(n, s, cpu)}", flush=True)
    engine, name = (ours, "dpo.sampling    ") if args.workload == "short" else (ours_legends, "LocalBackend    ")
    for bs in args.batch_sizes:
        n, s, cpu = timed(engine, model, tokenizer, prompts, max_new_tokens=args.max_new_tokens, batch_size=bs, seed=args.seed)
        print(f"{name} batch {bs:<3d} {precision:4s} weights  : {report(n, s, cpu)}", flush=True)


if __name__ == "__main__":
    main()
