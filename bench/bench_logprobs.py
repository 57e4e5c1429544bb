"""Peak memory and time of sequence log-probs: naive full-logits fp32 log_softmax against dpo.logprobs.

    python bench/bench_logprobs.py [--model smollm2-135m] [--batch 8] [--length 256] [--prompt 64]
                                   [--precisions fp32 bf16] [--modes infer train] [--repeats 1]

naive:  model(...).logits -> .float().log_softmax(-1) over the whole (B, T, V) -> gather -> masked sum
        (how most DPO code did it).
ours:   dpo.logprobs.forward_logps (body to (B, T, H), head + fp32 log-softmax per checkpointed chunk).
Modes: infer = inference mode (the reference pass); train = LoRA (r=8, q_proj/v_proj) forward + backward.

Each (variant, precision, mode) runs in its own subprocess. On the CPU the peak is the growth of the process'
maximum resident set size (getrusage ru_maxrss) over its value after loading the model and building the
batch; on CUDA it is torch.cuda.max_memory_allocated. Both variants see the same random batch (seeded).
The machine may be shared: timings are noisy, so the thread count and load average are printed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from dpo.data import IGNORE_INDEX  # noqa: E402
from dpo.logprobs import forward_logps  # noqa: E402
from dpo.lora import LoRAConfig, inject_lora  # noqa: E402
from dpo.models import load_model  # noqa: E402
from dpo.precision import autocast  # noqa: E402


def naive_logps(model, input_ids, attention_mask, labels) -> torch.Tensor:
    """(B,) summed log-probs through a full float32 (B, T, V) log-softmax."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, :-1]
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    logps = logits.float().log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)


def ours_logps(model, input_ids, attention_mask, labels) -> torch.Tensor:
    return forward_logps(model, input_ids, attention_mask, labels).sum


VARIANTS = {"naive": naive_logps, "ours": ours_logps}


def make_batch(vocab: int, batch: int, length: int, prompt: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (batch, length), generator=g)
    labels = ids.clone()
    labels[:, :prompt] = IGNORE_INDEX
    return ids.to(device), torch.ones_like(ids).to(device), labels.to(device)


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def measure(args) -> dict:
    """Run one variant in this process and return its figures."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, _ = load_model(args.model)
    model.to(device)
    if args.mode == "train":
        inject_lora(model, LoRAConfig(r=8, targets=("q_proj", "v_proj")))
        model.train()
    batch = make_batch(model.config.vocab_size, args.batch, args.length, args.prompt, device)
    fn = VARIANTS[args.variant]
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = max_rss_bytes()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with autocast(device, args.precision), torch.inference_mode(args.mode == "infer"):
            out = fn(model, *batch)
        if args.mode == "train":
            out.sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda" else max_rss_bytes()) - base
    return {"variant": args.variant, "precision": args.precision, "mode": args.mode, "device": device.type,
            "peak_mib": peak / 2**20, "seconds": min(times), "value": float(out.detach().sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=64, help="leading tokens of each row that are masked out")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--modes", nargs="+", default=["infer", "train"], choices=["infer", "train"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)  # child process
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args)))
        return

    print(f"model {args.model}, B={args.batch}, T={args.length} ({args.prompt} prompt tokens masked), "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'mode':6} {'precision':9} {'variant':7} {'peak MiB':>9} {'seconds':>8} {'sum of logps':>14}")
    for mode in args.modes:
        for precision in args.precisions:
            for variant in VARIANTS:
                cmd = [sys.executable, __file__, "--model", args.model, "--batch", str(args.batch),
                       "--length", str(args.length), "--prompt", str(args.prompt), "--repeats", str(args.repeats),
                       "--variant", variant, "--precision", precision, "--mode", mode]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{mode:6} {precision:9} {variant:7} failed:\n{done.stderr[-2000:]}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{mode:6} {precision:9} {variant:7} {r['peak_mib']:9.0f} {r['seconds']:8.2f} {r['value']:14.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
