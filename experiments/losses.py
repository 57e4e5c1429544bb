"""Every preference loss of dpo/loss.py on the same exposure pairs, each at a usual setting of its own scale,
plus cDPO (label smoothing) and RPO (an NLL term on the chosen answer)."""
from dataclasses import replace

from dpo.config import TrainConfig
from dpo.loss import LOSS_TYPES

base = TrainConfig(strategy="exposure")

SETTINGS = {  # beta means something else for each type (dpo/loss.py)
    "sigmoid": dict(beta=0.1),
    "robust": dict(beta=0.1, label_smoothing=0.1),
    "ipo": dict(beta=0.5),
    "hinge": dict(beta=0.1),
    "simpo": dict(beta=2.0, simpo_gamma=0.5),
    "orpo": dict(beta=0.1),
}
assert set(SETTINGS) == set(LOSS_TYPES), f"losses.py: give every loss type a setting ({sorted(set(LOSS_TYPES) - set(SETTINGS))})"

runs = {loss: replace(base, loss=loss, **SETTINGS[loss]) for loss in LOSS_TYPES}
runs["cdpo"] = replace(base, label_smoothing=0.1)
runs["rpo"] = replace(base, sft_weight=1.0)
