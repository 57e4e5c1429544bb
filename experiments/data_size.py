"""A learning curve in pairs: exposure DPO on seeded samples, one epoch each: the hand-written pairs at 32 to all
992, the builder's at 32 to 2048. The largest runs take hours on 2 CPU cores (steps = pairs / 4 at ~10 s):
--only picks the small ones, or run it on a GPU (the dry run prints the flags).
"""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="exposure")

runs = {f"authored{n or 992}": replace(base, max_train_pairs=n) for n in (32, 64, 128, 256, 512, 0)}
runs |= {f"builder{n}": replace(base, exposure_source="builder", max_train_pairs=n) for n in (32, 64, 128, 256, 512, 1024, 2048)}
