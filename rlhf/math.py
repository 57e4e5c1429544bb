"""The RL math shared by the reward model, PPO and GRPO: pure tensor functions, formulas in the docstrings.

Shapes: B sequences, R response positions. A `mask` (B, R) is 1 on response tokens (the end-of-turn token
included) and 0 on the padding after a response's end. No I/O, no models, no config objects.
"""
from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None,
                count: torch.Tensor | float | None = None) -> torch.Tensor:
    """sum(x * mask) / sum(mask), over `dim` or over everything. Given `count` (everything only), the sum is
    divided by it instead: a shard's part of the mean over a batch of `count` masked entries (summed over the
    ranks, the shards' parts give the batch's mean)."""
    mask = mask.to(x.dtype)
    if dim is None:
        total = mask.sum() if count is None else torch.as_tensor(count, dtype=x.dtype, device=x.device)
        return (x * mask).sum() / total.clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_moments(x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """What whitening needs of the masked entries of x, float64 0-dim tensors that add up over the shards of
    a batch:  n = sum(mask),  s = sum(x * mask),  q = sum(x^2 * mask)."""
    mask, x = mask.double(), x.double()
    return {"n": mask.sum(), "s": (x * mask).sum(), "q": (x * x * mask).sum()}


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8,
                  moments: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over the masked entries, from their moments (masked_moments: those of x,
    or given, those summed over every shard of the batch, e.g. over the ranks by dpo.distributed.global_sum,
    so that each shard is whitened by the whole batch's statistics):
        mean = s / n,   var = (q - n mean^2) / (n - 1)  (unbiased; 0 for a single entry).
    With shift_mean=False the mean is added back (rewards keep their sign, Huang et al. 2024). Entries
    outside the mask are returned as 0."""
    m = masked_moments(x, mask) if moments is None else moments
    n = m["n"].clamp(min=1)
    mean = m["s"] / n
    var = ((m["q"] - n * mean ** 2) / (n - 1).clamp(min=1)).clamp(min=0)
    mean, var = mean.to(x.dtype), var.to(x.dtype)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask.to(x.dtype)


def kl_k1(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Per-token KL(pi || ref) estimate from a sample of pi: k1 = log pi(y) - log ref(y) (unbiased, can be < 0).
    Schulman 2020, "Approximating KL divergence"."""
    return logps - ref_logps


def kl_k3(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Per-token KL(pi || ref) estimate from a sample of pi: k3 = exp(d) - d - 1, d = log ref(y) - log pi(y)
    (unbiased, always >= 0, low variance; the GRPO loss term of DeepSeekMath, arXiv 2402.03300)."""
    d = ref_logps - logps
    return torch.exp(d) - d - 1


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """PPO per-token rewards (B, R): r_t = -kl_coef * kl_t on every response token, plus the sequence's score
    (B,) at its last response token (Ziegler et al. 2019; Huang et al. 2024). 0 on padding."""
    mask = mask.to(kl.dtype)
    rewards = -kl_coef * kl * mask
    last = (mask.sum(-1).long() - 1).clamp(min=0)  # right padding: the last response token of each row
    return rewards.scatter_add(1, last[:, None], scores[:, None].to(rewards.dtype))


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016), rewards and values (B, R):
        delta_t = r_t + gamma * V_{t+1} - V_t,   A_t = delta_t + gamma * lam * A_{t+1},   returns = A + V,
    with V and r taken as 0 past a response's end (mask), so the last token bootstraps from 0.
    Returns (advantages, returns), each (B, R), 0 on padding."""
    mask = mask.to(values.dtype)
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        next_value = values[:, t + 1] if t + 1 < values.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def clipped_policy_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor,
                        clip: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token PPO-clip loss (Schulman et al. 2017), all (B, R):
        ratio = exp(logp - old_logp),  loss = max(-A * ratio, -A * clip(ratio, 1 - clip, 1 + clip)).
    Returns (loss (B, R), {"ratio", "clipped" (1 where the clipped term was taken), "approxkl":
    0.5 * (logp - old_logp)^2}), each (B, R), for the caller to average over its mask."""
    log_ratio = logps - old_logps
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.maximum(unclipped, clipped), {"ratio": ratio.detach(), "clipped": (clipped > unclipped).float(),
                                                "approxkl": 0.5 * log_ratio.detach() ** 2}


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token clipped value loss (B, R) (Huang et al. 2024):
        V_clip = old_V + clip(V - old_V, -clip, clip),  loss = 0.5 * max((V - G)^2, (V_clip - G)^2).
    Returns (loss, clipped (1 where the clipped term was taken))."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    unclipped_loss, clipped_loss = (values - returns) ** 2, (clipped_values - returns) ** 2
    return 0.5 * torch.maximum(unclipped_loss, clipped_loss), (clipped_loss > unclipped_loss).float()


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """GRPO advantages (DeepSeekMath, arXiv 2402.03300), rewards (B,) with B = groups * group_size, the samples
    of one prompt contiguous:  A_i = (r_i - mean(group)) / (std(group) + eps), std unbiased. Returns (B,)."""
    if group_size < 2 or rewards.shape[0] % group_size:
        raise ValueError(f"need group_size >= 2 dividing the batch ({rewards.shape[0]}), got {group_size}")
    groups = rewards.view(-1, group_size)
    return ((groups - groups.mean(-1, keepdim=True)) / (groups.std(-1, keepdim=True) + eps)).view(-1)


def adaptive_kl_coef(coef: float, kl: float, target: float, horizon: int, n_steps: int) -> float:
    """Proportional KL controller (Ziegler et al. 2019): e = clip(kl / target - 1, -0.2, 0.2),
    coef <- coef * (1 + e * n_steps / horizon). kl is the observed per-sequence KL, n_steps the sequences
    since the last update."""
    error = min(max(kl / target - 1.0, -0.2), 0.2)
    return coef * (1.0 + error * n_steps / horizon)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """(..., V) logits -> (...) entropy -sum_v p_v log p_v, in float32."""
    logp = logits.float().log_softmax(-1)
    return -(logp.exp() * logp).sum(-1)


def sequence_kl(kl: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, R) per-token KL estimates -> (B,) their sum over each response (the per-sequence KL)."""
    return (kl * mask.to(kl.dtype)).sum(-1)

