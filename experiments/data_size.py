"""A learning curve in pairs: exposure DPO on seeded samples of 32 to 2048 pairs, one epoch each.

The largest runs take hours on 2 CPU cores (steps = pairs / 4 at ~6 s): --only picks the small ones, or run it
on a GPU (the dry run prints the flags).
"""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="exposure")

runs = {f"pairs{n}": replace(base, max_train_pairs=n) for n in (32, 64, 128, 256, 512, 1024, 2048)}
