"""Exposure with balanced citations (the governing rule named on both sides of a pair, or on neither) vs no
citations at all: does naming the regulation teach the model facts, or only a surface cue? 3 seeds each.
On the builder's pairs, whose citations are a setting (the hand-written pairs cite by their own spec)."""
from dataclasses import replace

from dpo.config import TrainConfig
from experiments.spec import seeds

base = TrainConfig(strategy="exposure", exposure_source="builder", max_train_pairs=256)

runs = seeds({"balanced": base, "none": replace(base, citations="none")})
