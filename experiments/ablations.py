"""The study's comparison and its first ablations, on the embedded SmolLM2-135M with LoRA.

Run with `python -m experiments.run experiments/ablations.py` (the legends runs need
`python generate.py --n 5000` first). Each entry is a full TrainConfig: edit freely.
"""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="exposure", seed=0)

runs = {
    # the two strategies of the study, and their mixture
    "exposure": base,
    "legends": replace(base, strategy="legends"),
    "mixed": replace(base, strategy="mixed", mix=0.5),
    # how strongly the policy may move away from the reference
    "exposure-beta0.05": replace(base, beta=0.05),
    "exposure-beta0.5": replace(base, beta=0.5),
    # other preference objectives on the same data
    "exposure-ipo": replace(base, loss="ipo", beta=0.5),
    "exposure-simpo": replace(base, loss="simpo", beta=2.0, simpo_gamma=0.5),
    "exposure-rpo": replace(base, sft_weight=1.0),
    # adapter capacity
    "exposure-r16-all": replace(base, lora_r=16, lora_alpha=32,
                                lora_targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
}
