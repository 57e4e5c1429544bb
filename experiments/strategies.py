"""The study: base vs exposure vs legends (authored, generated) vs mixed vs PPO vs GRPO, 3 seeds each.

  python -m experiments.run experiments/strategies.py --dry-run   # plan and estimated time
  python -m experiments.run experiments/strategies.py             # hours on 2 CPU cores; resumable (Ctrl-C, rerun)
  python -m experiments.run experiments/strategies.py --results /tmp/again   # from scratch, beside the committed runs

The finished runs (settings, metrics, adapter) and their evaluations are committed under
experiments/results/strategies/ (.gitignore): each sitting's work survives the machine, and a rerun on a clean
checkout skips them and rewrites the report from them.

Controls:
- DPO rows (exposure, legends authored, legends generated, mixed): the same number of pairs (PAIRS, a seeded
  sample: the seed also draws the sample), the same steps, max_length and LoRA, and about the same response
  tokens, matched by truncation: every response keeps at most max_response_length = 168 tokens (128 pairs:
  exposure ~40,700 response tokens, legends 43,000); legends as story+advice, so the recommendation comes
  first and survives the cap. legends_source.py compares full-length stories and the advice form.
- Exposure is the default source since 2026-12-03: the hand-written pairs (data/exposure/authored/; 992 since
  the recipe's round 6), chosen on the validation items over the builder's templated pairs
  (experiments/results/recipe/report.md, rounds 3-6). Runs trained on earlier data go stale and train again.
- Generated legends: as many as the authored corpus has (308), written by the embedded model beforehand with
  `python generate.py --n 308` (not a `prepare` step: on 2 CPU cores the 135M model keeps ~3% of its drafts,
  0.6 legends a minute, ~8.5 h for 308; with `--backend openai` on a served larger model it takes minutes).
  Until data/legends/legends.jsonl holds them the row is reported as unavailable, with that reason.
- PPO and GRPO: the same reward data (one reward model, `rm`, trained on the exposure pairs of seed 0, shared by
  their seeds), prompts from the same exposure pairs, and the same compute as one DPO run: fewer prompts (so
  fewer steps) by their step cost relative to a DPO step (experiments/budget.py ALGO_FACTOR, measured in the
  first sitting: PPO 4.4x, GRPO 5.9x; that sitting ran them at the earlier guesses 2x and 3x, i.e. about twice
  a DPO run's compute). The reward model's own run is not counted in that budget.
- The base row is the untuned model, scored by the same evaluation (every item of the hand-written suites).
- exposure-default is the advisor `python train.py --strategy exposure` gives (all 992 hand-written pairs, 248
  steps, seed 0): outside the matched comparison (7.75x the pairs and steps of the rows above), there to say
  whether the default is better than the base on the test suites.

Budget on 2 CPU cores (the dry run prints it, from measured step times once runs exist): with native bf16
(AVX512-BF16), 12 DPO runs of 32 steps at ~6 s (~4 min each with their reference pass), a reward model and 6
PPO/GRPO runs of the same compute, 16 evaluations of every item (~8 min each): about 3.3 h, and the
generated-legends row ~50 min more; in fp32 on an AVX2 CPU (precision auto there) ~8.3 h in all (13 s a step,
~17 min an evaluation). On a GPU, the flags in `gpu` below (the dry run prints the
command); raise PAIRS for more data.
"""
from dataclasses import replace

from dpo.config import TrainConfig
from experiments.budget import ALGO_FACTOR
from experiments.spec import run_folder, seeds, variant, with_generated_legends

PAIRS = 128  # a DPO run: 32 steps of 4 pairs; the knob for more data (the RLHF budget follows it)
GENERATED_LEGENDS = 308  # = the authored corpus

base = TrainConfig(strategy="exposure", max_train_pairs=PAIRS)


dpo = {
    "exposure": base,
    "legends-authored": replace(base, strategy="legends", legends_source="authored"),
    "legends-generated": with_generated_legends(replace(base, strategy="legends", legends_source="generated"), GENERATED_LEGENDS),
    "mixed": replace(base, strategy="mixed", mix=0.5),
}
rlhf = {algo: variant(base, algo=algo, reward_model=run_folder("rm"), max_train_pairs=round(PAIRS / ALGO_FACTOR[algo]))
        for algo in ("ppo", "grpo")}  # prompts: a step is a rollout on batch_size of them

runs = {**seeds(dpo), "rm": variant(base, algo="rm"), **seeds(rlhf), "exposure-default": TrainConfig(strategy="exposure")}
evaluation = {"limit": 0}  # every item; the seed groups and paired tests are eval/aggregate.py's
gpu = {"device": "cuda", "batch_size": 16, "epochs": 4}  # every run 4x the updates, in the same proportions
