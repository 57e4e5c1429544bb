"""One LoRA DPO training step, ours against TRL's DPOTrainer + PEFT, on the same pairs, in one run.

    python bench/dpo_step.py [--rounds 2] [--steps 12] [--measure 10] [--pairs 64] [--batch 4] [--max-length 256]
                             [--ours bf16 fp32] [--trl fp32 bf16 bf16-ckpt] [--model smollm2-135m] [--device auto]

Settings (both sides): SmolLM2-135M, LoRA r=8 alpha=16 on q_proj and v_proj, batch 4 pairs, max length 256,
sigmoid loss with beta 0.1, lr 5e-4 (warmup 10%, cosine), grad-norm clip 1, reference log-probs computed
before training (ours: dpo.reference, TRL: precompute_ref_log_probs, both in batches of 16). The pairs are
synthetic and deterministic (`synthetic_pairs`: words drawn with a fixed seed, lengths like the exposure
pairs at max length 256, none truncated), and both trainers see them in the same batches (TRL through a
sequential sampler over our epoch order). Variants: ours in bf16 or fp32 (add `bf16-padded` for the padded
path this repository used before packing); TRL in fp32, bf16, or bf16 with gradient checkpointing. TRL runs
only where `trl` and `peft` are installed (never a requirement: see bench/README.md).

Each (round, variant) runs in a fresh child process, so its peak memory is its own; rounds go through all
variants in turn, so on a shared machine they see the same load and their ratio stays fair. For each
variant it prints: median s/step over the last `--measure` steps of every round; tokens/s (chosen plus
rejected tokens of the pairs, no padding, the same count for all); tokens computed a step (ours: the packed
row, each prompt once; TRL: its padded batch); achieved GFLOP/s by the LoRA count of 4 FLOPs a weight a
token (forward 2, input gradient 2; the frozen weights get no weight gradient): 4 * (N_body * T_body + N_head
* T_head), N_body the non-embedding weights, T_body the tokens through the body, N_head = vocab * hidden and
T_head the positions through the output head (attention scores and our head's recomputation not counted),
with its fraction of the matmul ceiling (a 2048x2048 matmul, measured at the start in the variant's
precision); peak RSS of the child (CPU) or peak allocated memory (CUDA); and the reference pass in pairs/s.
The last line is `speedup vs TRL best: N.NNx` (best TRL median over best ours median).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from dpo.data import (IGNORE_INDEX, PreferencePair, Truncation, batch_order, encode_prompt, encode_response,  # noqa: E402
                      pack_pairs)

SIDES = ("chosen", "rejected")
OURS = ("bf16", "fp32", "bf16-padded")
TRL = ("fp32", "bf16", "bf16-ckpt")
LR, BETA, LORA_R, LORA_ALPHA, TARGETS, REF_BATCH, SEED = 5e-4, 0.1, 8, 16, ("q_proj", "v_proj"), 16, 0
WORDS = """energy label class repair warranty supplier price year heat pump fridge washing machine kettle laptop
screen battery spare parts ecodesign regulation directive obligation consumer buyer seller shop office factory
hire candidate salary pay gap transparency women men equal work value report audit employer worker contract
training promotion interview criteria objective gender balance board member quota carbon footprint emissions
kWh electricity cost lifetime durable recycled packaging waste plastic deposit return scheme water efficient
lamp light source standby mode display television dishwasher dryer tumble cooler freezer oven hob boiler
insulation window tyre vehicle van fleet electric charging public procurement tender green criteria label
scale rescaled efficient cheaper expensive budget afford save saving month total running repairable software
update manufacturer importer distributor market surveillance authority fine penalty complaint right claim
the a an of to for and or but with on in at by from this that these those which who our your their its is
are was be can must should would will may not only also more less than about per each every both either""".split()


# ----------------------------------------------------------------------------- the pairs

def _text(rng: random.Random, length: int, fits) -> str:
    """Words drawn from WORDS, with punctuation now and then, up to the longest text `fits` accepts."""
    words: list[str] = []
    while True:
        word = rng.choice(WORDS)
        if not words or rng.random() < 0.08:
            word = word.capitalize()
        candidate = words + [word + ("." if rng.random() < 0.1 else "")]
        if not fits(" ".join(candidate), length):
            return " ".join(words)
        words = candidate


def synthetic_pairs(tokenizer, n: int, max_length: int, seed: int = SEED) -> list[PreferencePair]:
    """n deterministic pairs. Prompt (chat template included) 100-190 tokens; each response at least 40
    tokens and at most what keeps prompt + response + 2 within max_length (so TRL's extra newline after the
    end-of-turn token truncates nothing either)."""
    rng = random.Random(seed)
    prompt_fits = lambda text, k: len(encode_prompt(tokenizer, text)) <= k  # noqa: E731
    response_fits = lambda text, k: len(encode_response(tokenizer, text)) <= k  # noqa: E731
    pairs = []
    for i in range(n):
        prompt = _text(rng, rng.randint(100, 190), prompt_fits)
        room = max_length - 2 - len(encode_prompt(tokenizer, prompt))
        chosen, rejected = (_text(rng, rng.randint(40, room), response_fits) for _ in range(2))
        pairs.append(PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, id=f"synthetic-{i}"))
    return pairs


def scored(example: dict, side: str) -> int:
    """Positions of one sequence whose next token is scored (its response tokens)."""
    return sum(label != IGNORE_INDEX for label in example[f"{side}_labels"][1:])


def pair_tokens(examples: list[dict], batches: list[list[int]]) -> list[int]:
    """Chosen plus rejected tokens of each batch, without padding: the work every trainer is given."""
    return [sum(len(examples[i][f"{s}_input_ids"]) for i in idx for s in SIDES) for idx in batches]


def epoch_batches(examples: list[dict], batch: int) -> list[list[int]]:
    """Our trainer's batches of epoch 0 (dpo.data.batch_order with the bench seed); TRL gets the same."""
    lengths = [len(ex["chosen_input_ids"]) + len(ex["rejected_input_ids"]) for ex in examples]
    return batch_order(lengths, batch, seed=SEED, epoch=0)


# ----------------------------------------------------------------------------- measuring

def matmul_ceiling(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 5) -> tuple[float, float]:
    """GFLOP/s of an n x n matmul (the best of `reps`), with every thread the process has: by wall time and by
    process CPU time (on a shared CPU the second is far less sensitive to other jobs)."""
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    wall = cpu = float("inf")
    for _ in range(reps + 1):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        a @ b
        _sync(device)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return 2 * n ** 3 / wall / 1e9, 2 * n ** 3 / cpu / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def weight_counts(model) -> tuple[int, int]:
    """(N_body, N_head): the body's weights without the input embedding, and the output head's."""
    head = model.get_output_embeddings().weight.numel()
    embed = model.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in model.get_decoder().parameters()) - embed
    return body, head


def resolve_device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else "cpu" if name == "auto" else name)


# ----------------------------------------------------------------------------- one variant, in a child process

def setup(args):
    from dpo.models import load_model
    from dpo.precision import configure_device
    torch.manual_seed(SEED)
    device = resolve_device(args.device)
    configure_device(device)
    model, tok = load_model(args.model)
    pairs = synthetic_pairs(tok, args.pairs, args.max_length)
    return device, model, tok, pairs


def run_ours(args, precision: str, padded: bool) -> dict:
    from dpo import logprobs
    from dpo.config import TrainConfig
    from dpo.data import tokenize_pairs
    from dpo.lora import inject_lora
    from dpo.reference import reference_logps
    from dpo.run import disable_dropout, lora_config
    from dpo import trainer
    from dpo.trainer import fit
    device, model, tok, pairs = setup(args)
    if padded:  # the path before packing: every pair as two padded sequences
        logprobs.packs_pairs = lambda model: False
    tokenized = tokenize_pairs(tok, pairs, Truncation(args.max_length, args.max_length - 1))
    assert tokenized.truncated == 0 and tokenized.dropped == 0, "synthetic pairs must fit max_length"
    examples = tokenized.examples
    model.to(device)
    _sync(device)
    t0, cpu0 = time.perf_counter(), time.process_time()
    ref = reference_logps(model, examples, pad_id=tok.pad_token_id, cache_dir=None, precision=precision,
                          batch_size=REF_BATCH, device=device)
    _sync(device)
    ref_seconds, ref_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch, lr=LR, beta=BETA, loss="sigmoid", precision=precision,
                      lora_r=LORA_R, lora_alpha=LORA_ALPHA, lora_targets=list(TARGETS), max_length=args.max_length,
                      eval_every=10 ** 6, save_every=10 ** 6, seed=SEED, device=str(device))
    disable_dropout(model)
    torch.manual_seed(SEED)
    inject_lora(model, lora_config(cfg))
    cpu_times, step = [], trainer.train_step

    def timed_step(*a, **k):
        t0 = time.process_time()
        out = step(*a, **k)
        cpu_times.append(time.process_time() - t0)
        return out

    trainer.train_step = timed_step
    with tempfile.TemporaryDirectory() as run_dir:
        fit(model, cfg, train_examples=examples, eval_examples=[], pad_id=tok.pad_token_id, run_dir=Path(run_dir),
            device=device, ref_train=ref)
        records = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    batches = epoch_batches(examples, args.batch)[:args.steps]
    if padded:  # the body runs over 2B sequences of the longest length; the head scores the response positions
        computed = [(2 * len(idx) * max(len(examples[i][f"{s}_input_ids"]) for i in idx for s in SIDES),
                     sum(scored(examples[i], s) for i in idx for s in SIDES)) for idx in batches]
    else:
        computed = [(p.input_ids.shape[1], p.index.numel()) for p in (pack_pairs([examples[i] for i in idx])
                                                                       for idx in batches)]
    return {"step_times": [r["step_time"] for r in records], "cpu_times": cpu_times,
            "pair_tokens": pair_tokens(examples, batches),
            "computed": computed, "ref_seconds": ref_seconds, "ref_cpu": ref_cpu, "weights": weight_counts(model),
            "memory_mib": peak_memory_mib(device), "losses": [r["loss"] for r in records]}


def run_trl(args, config: str) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer
    from dpo.data import tokenize_pairs
    device, model, tok, pairs = setup(args)
    tokenized = tokenize_pairs(tok, pairs, Truncation(args.max_length, args.max_length - 1))
    order = [i for idx in epoch_batches(tokenized.examples, args.batch) for i in idx]
    rows = [{"prompt": [{"role": "user", "content": pairs[i].prompt}],
             "chosen": [{"role": "assistant", "content": pairs[i].chosen}],
             "rejected": [{"role": "assistant", "content": pairs[i].rejected}]} for i in order]
    bf16 = config.startswith("bf16")
    with tempfile.TemporaryDirectory() as out:
        dpo_args = DPOConfig(output_dir=out, per_device_train_batch_size=args.batch, max_steps=args.steps,
                             learning_rate=LR, lr_scheduler_type="cosine", warmup_steps=math.ceil(0.1 * args.steps),
                             max_grad_norm=1.0, beta=BETA, loss_type=["sigmoid"], max_length=args.max_length,
                             precompute_ref_log_probs=True, precompute_ref_batch_size=REF_BATCH, bf16=bf16,
                             gradient_checkpointing=config.endswith("ckpt"), use_cpu=device.type == "cpu",
                             report_to="none", save_strategy="no", logging_steps=args.steps, disable_tqdm=True,
                             train_sampling_strategy="sequential", dataloader_num_workers=0, seed=SEED)
        peft_config = LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=list(TARGETS), lora_dropout=0.0,
                                 task_type="CAUSAL_LM")
        timed: dict[str, float] = {}
        precompute = DPOTrainer._precompute_ref_logps

        def timed_precompute(self, dataset, name, batch_size):
            _sync(device)
            t0, cpu0 = time.perf_counter(), time.process_time()
            result = precompute(self, dataset, name, batch_size)
            _sync(device)
            timed[name], timed[name + "_cpu"] = time.perf_counter() - t0, time.process_time() - cpu0
            return result

        DPOTrainer._precompute_ref_logps = timed_precompute
        trainer = DPOTrainer(model=model, args=dpo_args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                             peft_config=peft_config)
        shapes, step_times, cpu_times = [], [], []
        collate = trainer.data_collator

        def recording_collator(examples):
            batch = collate(examples)
            shapes.append((tuple(batch["input_ids"].shape), int(batch["completion_mask"][:, 1:].sum())))
            return batch

        class StepTimer(TrainerCallback):
            def on_step_begin(self, *a, **k):
                _sync(device)
                self.t0, self.cpu0 = time.perf_counter(), time.process_time()

            def on_step_end(self, *a, **k):
                _sync(device)
                step_times.append(time.perf_counter() - self.t0)
                cpu_times.append(time.process_time() - self.cpu0)

        trainer.data_collator = recording_collator
        trainer.add_callback(StepTimer())
        trainer.train()
    # The head scores every position on devices without Triton (TRL's fused head), only completions with it.
    compact = device.type == "cuda"
    computed = [(rows_ * length, completions if compact else rows_ * (length - 1))
                for (rows_, length), completions in shapes[:args.steps]]
    batches = epoch_batches(tokenized.examples, args.batch)[:args.steps]
    return {"step_times": step_times, "cpu_times": cpu_times, "pair_tokens": pair_tokens(tokenized.examples, batches),
            "computed": computed, "ref_seconds": timed["train"], "ref_cpu": timed["train_cpu"],
            "weights": weight_counts(model), "memory_mib": peak_memory_mib(device), "losses": []}


def child(args) -> None:
    side, variant = args.child.split(":")
    out = run_ours(args, variant.removesuffix("-padded"), variant.endswith("-padded")) if side == "ours" \
        else run_trl(args, variant)
    print("RESULT " + json.dumps(out))


# ----------------------------------------------------------------------------- the parent

def precision_of(variant: str) -> str:
    return "fp32" if "fp32" in variant else "bf16"


def summarize(name: str, results: list[dict], args, ceilings: dict[str, tuple[float, float]]) -> dict:
    times, tokens, flops, computed = [], 0.0, 0.0, []
    for r in results:
        n_body, n_head = r["weights"]
        for t, pair_tok, (body, head) in list(zip(r["step_times"], r["pair_tokens"], r["computed"]))[-args.measure:]:
            times.append(t)
            tokens += pair_tok
            flops += 4 * (n_body * body + n_head * head)
            computed.append(body)
    precision = precision_of(name)
    cpu = [t for r in results for t in r["cpu_times"][-args.measure:]]
    gflops, cpu_gflops = flops / sum(times) / 1e9, flops / sum(cpu) / 1e9
    return {"name": name, "median": statistics.median(times), "cpu": statistics.median(cpu),
            "tokens_per_s": tokens / sum(times), "computed": statistics.mean(computed), "gflops": gflops,
            "ceiling": gflops / ceilings[precision][0], "cpu_gflops": cpu_gflops,
            "cpu_ceiling": cpu_gflops / ceilings[precision][1], "precision": precision,
            "memory": max(r["memory_mib"] for r in results),
            "ref_pairs_per_s": args.pairs / min(r["ref_seconds"] for r in results),
            "ref_pairs_per_cpu_s": args.pairs / min(r["ref_cpu"] for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--measure", type=int, default=10, help="last steps of each round that are timed")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--ours", nargs="*", default=["bf16", "fp32"], choices=OURS)
    parser.add_argument("--trl", nargs="*", default=list(TRL), choices=TRL)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    try:
        import peft
        import trl
        trl_versions = f"trl {trl.__version__}, peft {peft.__version__}"
    except ImportError:
        trl_versions, args.trl = None, []
    import transformers
    device = resolve_device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    print(f"versions: torch {torch.__version__}, transformers {transformers.__version__}, "
          + (trl_versions or "trl/peft not installed: ours only"))
    used = {precision_of(v) for v in [*args.ours, *args.trl]}  # an emulated bf16 ceiling alone takes minutes
    ceilings = {k: matmul_ceiling(device, dtype) for k, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))
                if k in used}
    print("matmul ceiling (2048x2048): " + ", ".join(f"{k} {wall:.0f} GFLOP/s ({cpu:.0f} per CPU-second)"
                                                     for k, (wall, cpu) in ceilings.items()))

    from dpo.data import tokenize_pairs
    from dpo.models import load_model
    _, tok = load_model(args.model)
    examples = tokenize_pairs(tok, synthetic_pairs(tok, args.pairs, args.max_length),
                              Truncation(args.max_length, args.max_length - 1)).examples
    prompt = statistics.mean(ex["chosen_labels"].count(IGNORE_INDEX) for ex in examples)
    response = statistics.mean(scored(ex, s) for ex in examples for s in SIDES)
    print(f"pairs: {args.pairs} synthetic, prompt {prompt:.0f} tokens and responses {response:.0f} on average; "
          f"batch {args.batch}, {args.steps} steps a round, the last {args.measure} timed, {args.rounds} rounds")

    variants = [f"ours:{v}" for v in args.ours] + [f"trl:{v}" for v in args.trl]
    results: dict[str, list[dict]] = {v: [] for v in variants}
    passthrough = ["--steps", str(args.steps), "--pairs", str(args.pairs), "--batch", str(args.batch),
                   "--max-length", str(args.max_length), "--model", args.model, "--device", args.device]
    for round_ in range(1, args.rounds + 1):
        for variant in variants:
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, __file__, "--child", variant, *passthrough], capture_output=True,
                                  text=True, env={**os.environ, "TQDM_DISABLE": "1"})
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            if proc.returncode or not lines:
                sys.exit(f"{variant} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            result = json.loads(lines[-1].removeprefix("RESULT "))
            results[variant].append(result)
            timed = result["step_times"][-args.measure:]
            print(f"round {round_} {variant:16s} median {statistics.median(timed):6.2f} s/step  reference "
                  f"{result['ref_seconds']:6.1f} s (cpu {result['ref_cpu']:.1f} s)  ({time.perf_counter() - started:.0f} s with loading; load average "
                  f"{os.getloadavg()[0]:.2f})", flush=True)

    rows = [summarize(v, results[v], args, ceilings) for v in variants]
    print(f"\n{'variant':16s} {'s/step':>7s} {'cpu s':>6s} {'tokens/s':>9s} {'computed':>8s} {'GFLOP/s':>8s} "
          f"{'of ceiling':>10s} {'per CPU-s':>9s} {'of ceiling':>10s} {'peak MiB':>9s} {'ref pairs/s':>11s}")
    for r in rows:
        print(f"{r['name']:16s} {r['median']:7.2f} {r['cpu']:6.2f} {r['tokens_per_s']:9.0f} {r['computed']:8.0f} "
              f"{r['gflops']:8.1f} {100 * r['ceiling']:9.1f}% {r['cpu_gflops']:9.1f} {100 * r['cpu_ceiling']:9.1f}% "
              f"{r['memory']:9.0f} {r['ref_pairs_per_s']:11.2f}   ({r['precision']} ceiling)")
    ours = min((r for r in rows if r["name"].startswith("ours")), key=lambda r: r["median"])
    theirs = [r for r in rows if r["name"].startswith("trl")]
    if theirs:
        best = min(theirs, key=lambda r: r["median"])
        fastest_ref = max(theirs, key=lambda r: r["ref_pairs_per_s"])
        print(f"reference pass: ours {ours['ref_pairs_per_s']:.2f} pairs/s vs TRL {fastest_ref['ref_pairs_per_s']:.2f} "
              f"({ours['ref_pairs_per_s'] / fastest_ref['ref_pairs_per_s']:.2f}x; by CPU time "
              f"{ours['ref_pairs_per_cpu_s'] / max(r['ref_pairs_per_cpu_s'] for r in theirs):.2f}x); step by CPU time "
              f"{min(r['cpu'] for r in theirs) / ours['cpu']:.2f}x; peak memory ours {ours['memory']:.0f} MiB vs TRL best {best['memory']:.0f} MiB")
        print(f"speedup vs TRL best: {best['median'] / ours['median']:.2f}x")
    else:
        print("speedup vs TRL best: n/a (install trl and peft to compare, see bench/README.md)")


if __name__ == "__main__":
    main()
