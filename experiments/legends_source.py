"""Legends: hand-written (authored) vs written by the embedded model (generated), each as a story, as advice
with a short example, and as advice followed by the whole story (legends/pairs.py --format).

The generated corpus has as many legends as the authored one, written first with `python generate.py
--n 308` (until then its runs are reported as unavailable). Stories keep their full length here
(max_response_length=0): the study's equal-budget cap (168 tokens) cuts a legend's ending.
"""
from dataclasses import replace

from dpo.config import TrainConfig
from experiments.spec import with_generated_legends

base = TrainConfig(strategy="legends", max_response_length=0)

runs = {f"{source}-{fmt}": replace(base, legends_source=source, legends_format=fmt)
        for source in ("authored", "generated") for fmt in ("story", "advice", "story+advice")}
runs = {name: with_generated_legends(cfg, 308) if cfg.legends_source == "generated" else cfg for name, cfg in runs.items()}
