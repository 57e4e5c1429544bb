"""Adapter capacity: LoRA rank on the attention's q and v (alpha = 2 r), and rank 16 on every linear layer."""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="exposure")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

runs = {f"r{r}": replace(base, lora_r=r, lora_alpha=2.0 * r) for r in (2, 4, 8, 16, 32, 64)}
runs["r16-all"] = replace(base, lora_r=16, lora_alpha=32.0, lora_targets=ALL_LINEAR)
