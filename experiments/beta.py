"""How far DPO may move from the reference: beta on the exposure pairs (one seed; add seeds() for intervals).

Every run trains on the same pair sample, so the reference pass is computed once and cached.
"""
from dataclasses import replace

from dpo.config import TrainConfig

base = TrainConfig(strategy="exposure")

runs = {f"beta{beta:g}": replace(base, beta=beta) for beta in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)}
