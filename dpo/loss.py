"""Preference losses: one pure function over per-example sequence log-probs.

Notation (all tensors (B,), float32): pi_w, pi_l are the policy log-probs of the chosen (w) and rejected (l)
responses summed over response tokens; ref_w, ref_l the same under the frozen reference; a bar (avg_w, avg_l)
marks the length-averaged log-probs (sum / number of response tokens). sigma is the logistic function,
beta the inverse temperature (per type below), eps = label_smoothing.

Reference-based types use the log-ratio margin  h = (pi_w - ref_w) - (pi_l - ref_l)  (on averaged log-probs
for ipo). Their rewards are beta * (policy - ref), on the same log-probs the loss uses, so that the reward
margin is beta * h. Reference-free types (simpo, orpo) take no reference at all; their rewards are
beta * avg (the implicit reward of SimPO; the log-odds scale of ORPO), also detached.

  sigmoid  DPO (Rafailov et al. 2023, arXiv:2305.18290):  -log sigma(beta h).  With eps > 0 it is
           conservative DPO (cDPO, Mitchell 2023): labels flipped with probability eps,
           -(1 - eps) log sigma(beta h) - eps log sigma(-beta h).
  robust   robust DPO (Chowdhury et al. 2024, arXiv:2403.00409), unbiased under label-flip rate eps < 0.5:
           [-(1 - eps) log sigma(beta h) + eps log sigma(-beta h)] / (1 - 2 eps).
  ipo      IPO (Azar et al. 2023, arXiv:2310.12036) on length-averaged log-probs:  (h_avg - 1 / (2 beta))^2.
  hinge    SLiC-HF (Zhao et al. 2023, arXiv:2305.10425) calibration loss:  max(0, 1 - beta h).
  simpo    SimPO (Meng et al. 2024, arXiv:2405.14734), reference-free, length-normalised, margin gamma:
           -(1 - eps) log sigma(beta (avg_w - avg_l) - gamma) - eps log sigma(-(beta (avg_w - avg_l) - gamma)).
  orpo     ORPO (Hong et al. 2024, arXiv:2403.07691), reference-free odds ratio with lambda = beta:
           -avg_w - beta log sigma(log odds(avg_w) - log odds(avg_l)),  odds(p) = p / (1 - p) with
           p = exp(avg) the per-token geometric-mean probability, so log odds = avg - log(1 - exp(avg)).
           The first term is ORPO's own NLL on the chosen response.

Any type adds  sft_weight * (-avg_w), the chosen NLL of RPO (Pang et al. 2024, arXiv:2404.19733), when
sft_weight > 0 (for orpo this comes on top of its own NLL term).

Per-pair confidence c (B,) in (0.5, 1] (e.g. the share of raters who prefer the chosen response) makes
sigmoid, robust and simpo use a per-pair eps: the stated label is wrong with probability 1 - c, so
eps = 1 - c; with label_smoothing s as well (an independent flip), eps = s + (1 - c)(1 - 2s), which is s
at c = 1 and 1 - c at s = 0. A pair with c = 1 gives the loss of a pair without confidence (bit for bit
when s = 0; within float32 rounding otherwise).

The Bradley-Terry loss with a soft target (`bradley_terry_loss`) is the sigmoid form on any margin m,
e.g. a reward model's r(chosen) - r(rejected):  -c log sigma(m) - (1 - c) log sigma(-m).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_TYPES = ("sigmoid", "robust", "ipo", "hinge", "simpo", "orpo")
REFERENCE_FREE = frozenset({"simpo", "orpo"})
SMOOTHED = ("sigmoid", "robust", "simpo")  # the types that take label_smoothing and per-pair confidence


def bradley_terry_loss(margin: torch.Tensor, confidence: torch.Tensor | float | None = None) -> torch.Tensor:
    """Per-example Bradley-Terry loss (B,) of margins m (B,) = score(chosen) - score(rejected), with the
    soft target c = P(chosen preferred), a (B,) tensor or a float in [0, 1]:
      -c log sigma(m) - (1 - c) log sigma(-m);   None means c = 1:  -log sigma(m).
    """
    if confidence is None:
        return -F.logsigmoid(margin)
    return -confidence * F.logsigmoid(margin) - (1 - confidence) * F.logsigmoid(-margin)


def preference_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
                    ref_chosen_logps: torch.Tensor | None = None, ref_rejected_logps: torch.Tensor | None = None,
                    *, beta: float, loss_type: str = "sigmoid", label_smoothing: float = 0.0,
                    simpo_gamma: float = 0.5, sft_weight: float = 0.0,
                    policy_chosen_logps_mean: torch.Tensor | None = None,
                    policy_rejected_logps_mean: torch.Tensor | None = None,
                    ref_chosen_logps_mean: torch.Tensor | None = None,
                    ref_rejected_logps_mean: torch.Tensor | None = None,
                    confidence: torch.Tensor | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-example preference losses and detached rewards, each (B,). See the module docstring for formulas.

    Positional arguments are summed log-probs (`SequenceLogps.sum`); the `*_mean` keywords are length-averaged
    log-probs (`SequenceLogps.mean`), needed by ipo (policy and reference), simpo and orpo (policy), and by any
    type when sft_weight > 0 (policy chosen). The reference arguments are ignored by simpo and orpo and may be
    None for them. `confidence` (B,) in (0.5, 1] gives each pair its own eps (sigmoid, robust, simpo; other
    types accept only 1.0). Returns (losses, chosen_rewards, rejected_rewards); reduce losses with .mean().
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    if label_smoothing and loss_type not in SMOOTHED:
        raise ValueError(f"label_smoothing applies to {', '.join(SMOOTHED)}, not {loss_type!r}")
    if confidence is not None and loss_type not in SMOOTHED and bool((confidence < 1).any()):
        raise ValueError(f"pairs with confidence < 1 need loss {', '.join(SMOOTHED)}, not {loss_type!r}")
    if sft_weight < 0:
        raise ValueError(f"sft_weight must be >= 0, got {sft_weight}")

    means = {"policy_chosen_logps_mean": policy_chosen_logps_mean,
             "policy_rejected_logps_mean": policy_rejected_logps_mean,
             "ref_chosen_logps_mean": ref_chosen_logps_mean, "ref_rejected_logps_mean": ref_rejected_logps_mean}
    needed = {"ipo": list(means), "simpo": list(means)[:2], "orpo": list(means)[:2]}.get(loss_type, [])
    if sft_weight > 0:
        needed.append("policy_chosen_logps_mean")
    if loss_type not in REFERENCE_FREE and (ref_chosen_logps is None or ref_rejected_logps is None):
        raise ValueError(f"loss_type {loss_type!r} needs ref_chosen_logps and ref_rejected_logps "
                         f"(only {sorted(REFERENCE_FREE)} are reference-free)")
    missing = sorted({k for k in needed if means[k] is None})
    if missing:
        raise ValueError(f"loss_type {loss_type!r} (sft_weight={sft_weight}) needs {', '.join(missing)}")

    eps = label_smoothing if confidence is None else label_smoothing + (1 - confidence) * (1 - 2 * label_smoothing)
    if loss_type in REFERENCE_FREE:
        chosen, rejected = policy_chosen_logps_mean, policy_rejected_logps_mean
        if loss_type == "simpo":
            z = beta * (chosen - rejected) - simpo_gamma
            losses = bradley_terry_loss(z, 1 - eps)
        else:
            log_odds = (chosen - rejected) - (_log1mexp(chosen) - _log1mexp(rejected))
            losses = -chosen - beta * F.logsigmoid(log_odds)
        chosen_rewards, rejected_rewards = beta * chosen, beta * rejected
    else:
        if loss_type == "ipo":
            chosen = policy_chosen_logps_mean - ref_chosen_logps_mean
            rejected = policy_rejected_logps_mean - ref_rejected_logps_mean
        else:
            chosen, rejected = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
        h = chosen - rejected
        if loss_type == "sigmoid":
            losses = bradley_terry_loss(beta * h, 1 - eps)
        elif loss_type == "robust":
            losses = (-(1 - eps) * F.logsigmoid(beta * h) + eps * F.logsigmoid(-beta * h)) / (1 - 2 * eps)
        elif loss_type == "ipo":
            losses = (h - 1 / (2 * beta)) ** 2
        else:  # hinge
            losses = torch.relu(1 - beta * h)
        chosen_rewards, rejected_rewards = beta * chosen, beta * rejected

    if sft_weight > 0:
        losses = losses - sft_weight * policy_chosen_logps_mean
    return losses, chosen_rewards.detach(), rejected_rewards.detach()


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, accurate near 0 (where log1p(-exp(x)) loses digits)."""
    return torch.log(-torch.expm1(x))
