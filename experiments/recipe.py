"""The training recipe, chosen on validation items (eval/validation.py), never on the test suites.

The study's exposure run (128 pairs, 32 steps of 4, LoRA r 8 on q/v, lr 5e-4, beta 0.1) moves the model too
little for any test item to flip. Each candidate changes one thing that could make DPO move it further for the
same data; they are compared by the validation margin (data/validation/: hand-written, in domains no test suite
has), then the test suites judge the chosen one like any other run.

  python -m experiments.run experiments/recipe.py --no-eval          # train the candidates
  python -m eval.validation experiments/results/recipe/*/            # compare them on the validation items
"""
from dataclasses import replace

from dpo.config import TrainConfig
from experiments.lora_rank import ALL_LINEAR
from experiments.spec import seeds

base = TrainConfig(strategy="exposure", exposure_source="builder", max_train_pairs=128)  # rounds 1-2: the builder's pairs

runs = {
    "study": base,
    "lr2e-3": replace(base, lr=2e-3),  # larger LoRA steps
    "all-linear": replace(base, lora_targets=ALL_LINEAR),  # adapters on every linear layer, MLP included
    "rpo": replace(base, sft_weight=1.0),  # + NLL of the chosen answer (RPO)
    "epochs2": replace(base, epochs=2),  # the same pairs twice: 64 steps
    # the same larger steps on the hand-written legends (story+advice), alone and mixed half and half
    "legends-lr2e-3": replace(base, strategy="legends", lr=2e-3),
    "mixed-lr2e-3": replace(base, strategy="mixed", mix=0.5, lr=2e-3),
}
runs.update(seeds({name: runs[name] for name in ("lr2e-3", "legends-lr2e-3")}, (1, 2)))  # more than one seed's noise?
# second round, the levers the study's ablation files vary, at the study's lr (its seed noise is the smallest)
runs.update({
    "pairs512": replace(base, max_train_pairs=512),  # 4x the data: 128 steps (data_size.py)
    "simpo": replace(base, loss="simpo", beta=2.0, simpo_gamma=0.5),  # the length-normalised margin (losses.py)
    "ipo": replace(base, loss="ipo", beta=0.5),  # squared loss toward a fixed margin (losses.py)
    "citations-none": replace(base, citations="none"),  # no rule named on either side (citations.py)
    "beta0.5": replace(base, beta=0.5),  # a tighter KL (beta.py); under Adam beta mostly sets when it saturates
})
runs.update(seeds({"pairs512": runs["pairs512"]}, (1,)))  # the one that moved most: a second seed
# third round: the same 57 obligations in hand-written pairs (data/exposure/authored/: prose, no template, cue-balanced)
runs.update({
    "authored": replace(base, exposure_source="authored"),
    "authored-all": replace(base, exposure_source="authored", max_train_pairs=0),  # all: 224 in round 3, 480 in round 4, 736 in round 5, 992 since round 6
})
runs.update(seeds({"authored": runs["authored"]}, (1,)))
