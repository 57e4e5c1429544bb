"""Legends: hand-written (authored) vs written by the embedded model (generated), each as a story, as advice
with a short example, and as advice followed by the whole story (legends/pairs.py --format).

The generated corpus has as many legends as the authored one (prepare writes it first). Stories keep their
full length here (max_response_length=0): the study's equal-budget cap (168 tokens) cuts a legend's ending.
"""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="legends", max_response_length=0)

runs = {f"{source}-{fmt}": replace(base, legends_source=source, legends_format=fmt)
        for source in ("authored", "generated") for fmt in ("story", "advice", "story+advice")}
prepare = [["generate.py", "--n", "308"]]
