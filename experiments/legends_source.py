"""Legends: hand-written (authored) vs written by the embedded model (generated), each as a story, as advice
with a short example, and as advice followed by the whole story (legends/pairs.py --format).

The generated corpus has as many legends as the authored one (prepare writes it first).
"""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="legends")

runs = {f"{source}-{fmt}": replace(base, legends_source=source, legends_format=fmt)
        for source in ("authored", "generated") for fmt in ("story", "advice", "story+advice")}
prepare = [["generate.py", "--n", "308"]]
