"""A reward model: the base model's decoder plus a scalar head, trained on preference pairs (Bradley-Terry).

    reward(x, y) = (w . h + b - mean) / std
h: the final hidden state (after the last norm) at the last token of prompt + response, the end-of-turn
token every response ends with (dpo.data.encode_response). The head starts at w ~ N(0, 1 / (H + 1)), b = 0
(Huang et al. 2024); the body trains LoRA adapters (or every weight with full_finetune), the head always.
Loss per pair: -log sigmoid(r_chosen - r_rejected), or with a pair's confidence c the soft-target
-c log sigmoid(m) - (1 - c) log sigmoid(-m) (dpo.loss.bradley_terry_loss); metrics `loss`,
`accuracy` (r_chosen > r_rejected), `margin` (r_chosen - r_rejected), and under `eval/` on held-out pairs.

Normalisation: after training, mean and std are those of the raw rewards of the reference policy's own
samples (the base model's responses to the training prompts), so RL starts from scores of mean 0, std 1.

Folder (a run's reward_model/), loadable on its own with load_reward_model:
  reward_config.json         the base (name, identity hash of its weights and config, vocabulary size, tokenizer
                             hash), LoRA settings or null (full), hidden size, normalisation
  reward_model.safetensors   the trained tensors: LoRA A/B and head, or every weight
A reward model is refused for a policy whose base or tokenizer differs from the one it was trained on.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dpo.config import TrainConfig
from dpo.files import atomic_folder
from dpo.lora import LoRAConfig, inject_lora
from dpo.loss import bradley_terry_loss
from dpo.models import eval_mode, load_model, model_identity
from dpo.precision import autocast
from dpo.trainer import trainable_state

from .rewards import Scorer
from .rollout import Rollout

CONFIG_FILE = "reward_config.json"
WEIGHTS_FILE = "reward_model.safetensors"
FORMAT = "commongood-reward-model/1"
SHOW = {"loss": "loss", "acc": "accuracy"}  # progress bar
SUMMARY = ("loss", "eval/loss", "eval/accuracy", "eval/margin")


class RewardModel(nn.Module):
    """A causal LM (`lm`, whose decoder body is used) and a scalar `head`; forward gives raw rewards (B,),
    score() normalised ones."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm
        hidden = lm.config.hidden_size
        self.head = nn.Linear(hidden, 1, dtype=lm.get_input_embeddings().weight.dtype)
        nn.init.normal_(self.head.weight, std=1.0 / math.sqrt(hidden + 1))
        nn.init.zeros_(self.head.bias)
        self.mean, self.std = 0.0, 1.0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Right-padded (B, T) sequences -> raw rewards (B,) float32, read at each row's last real token."""
        hidden = self.lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask,
                                       use_cache=False).last_hidden_state  # (B, T, H)
        last = attention_mask.sum(-1) - 1
        return self.head(hidden[torch.arange(hidden.shape[0], device=hidden.device), last]).squeeze(-1).float()

    def score(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Normalised rewards (B,): (raw - mean) / std."""
        return (self(input_ids, attention_mask) - self.mean) / self.std


def reward_pair_loss(model: RewardModel, batch: dict, ref, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """Mean Bradley-Terry loss of a dpo.data.collate batch (soft targets for pairs with a confidence) and its
    metrics (loss_fn of dpo.trainer.fit)."""
    n = batch["chosen_input_ids"].shape[0]
    rewards = model(torch.cat([batch["chosen_input_ids"], batch["rejected_input_ids"]]),
                    torch.cat([batch["chosen_attention_mask"], batch["rejected_attention_mask"]]))
    chosen, rejected = rewards[:n], rewards[n:]
    loss = bradley_terry_loss(chosen - rejected, batch.get("confidence")).mean()
    return loss, {"loss": loss.detach(), "accuracy": (chosen > rejected).float().mean(),
                  "margin": (chosen - rejected).detach().mean(), "rewards/chosen": chosen.detach().mean(),
                  "rewards/rejected": rejected.detach().mean()}


@torch.no_grad()
def raw_rewards(model: RewardModel, rollout: Rollout, *, batch_size: int, device: torch.device,
                precision: str) -> torch.Tensor:
    """Raw rewards (B,) of a rollout's prompt + response sequences, batch_size rows at a time."""
    out = []
    with eval_mode(model):
        for start in range(0, len(rollout), batch_size):
            part = rollout.select(torch.arange(start, min(start + batch_size, len(rollout)), device=device))
            with autocast(device, precision):
                out.append(model(part.input_ids, part.attention_mask))
    return torch.cat(out)


def model_scorer(model: RewardModel, *, batch_size: int, device: torch.device, precision: str) -> Scorer:
    """A Scorer giving the reward model's normalised rewards."""
    return lambda rollout: (raw_rewards(model, rollout, batch_size=batch_size, device=device,
                                        precision=precision) - model.mean) / model.std


def tokenizer_identity(tokenizer) -> str:
    """SHA-256 of what makes token ids: the vocabulary, the special tokens and the chat template."""
    record = {"vocab": sorted(tokenizer.get_vocab().items()), "special": tokenizer.special_tokens_map,
              "chat_template": tokenizer.chat_template}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def base_record(base_name: str, base_identity: str, tokenizer) -> dict:
    """What a reward model must match: its base's name, identity, vocabulary size and tokenizer."""
    return {"base_model": base_name, "base_identity": base_identity, "vocab_size": len(tokenizer),
            "tokenizer_identity": tokenizer_identity(tokenizer)}


def save_reward_model(model: RewardModel, folder: str | Path, *, base: dict, lora: LoRAConfig | None,
                      normalisation: dict) -> Path:
    """Write reward_config.json and reward_model.safetensors into `folder` (a temporary folder, renamed)."""
    folder = Path(folder)
    config = {"format": FORMAT, **base, "hidden_size": model.lm.config.hidden_size,
              "lora": None if lora is None else {"r": lora.r, "alpha": lora.alpha, "dropout": lora.dropout,
                                                 "targets": list(lora.targets), "rslora": lora.rslora},
              "normalisation": normalisation}
    with atomic_folder(folder) as tmp:
        save_file({k: v.cpu() for k, v in trainable_state(model).items()}, str(tmp / WEIGHTS_FILE))
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return folder


def reward_folder(path: str | Path) -> Path:
    """A reward-model folder, or a run folder holding one in reward_model/."""
    p = Path(path)
    for candidate in (p, p / "reward_model"):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"{path}: neither a reward-model folder ({CONFIG_FILE}) nor a run folder with "
                            "reward_model/ (train one with `python train.py --algo rm`)")


def read_reward_config(path: str | Path) -> dict:
    folder = reward_folder(path)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{folder / CONFIG_FILE}: cannot read the reward model's config ({e})") from e
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{folder / CONFIG_FILE}: not a reward model of this codebase (format {FORMAT})")
    return config


def check_compatible(config: dict, base: dict, where: str | Path) -> None:
    """Refuse a reward model made for another base model or tokenizer than `base` (a base_record)."""
    if config["vocab_size"] != base["vocab_size"] or config["tokenizer_identity"] != base["tokenizer_identity"]:
        raise ValueError(f"reward model {where} was trained with another tokenizer (vocabulary {config['vocab_size']}"
                         f" tokens) than the policy's ({base['vocab_size']} tokens): its scores would read other "
                         "token ids; train a reward model on this base")
    if config["base_identity"] != base["base_identity"]:
        raise ValueError(f"reward model {where} was trained on another base model ({config['base_model']}, "
                         f"identity {config['base_identity'][:12]}) than the policy's ({base['base_model']}, identity "
                         f"{base['base_identity'][:12]}); train a reward model on this base")


def load_reward_model(path: str | Path, *, cache_dir: str | None = None,
                      expect: dict | None = None) -> tuple[RewardModel, object, dict]:
    """(reward model in eval mode with frozen weights, tokenizer, config) from a reward-model or run folder;
    its base is loaded by name and must still be the one it was trained on. With `expect` (a base_record),
    the reward model must have been made for that base and tokenizer (checked before anything is loaded)."""
    folder = reward_folder(path)
    config = read_reward_config(folder)
    if expect is not None:
        check_compatible(config, expect, folder)
    lm, tokenizer = load_model(config["base_model"], cache_dir=cache_dir)
    check_compatible(config, base_record(config["base_model"], model_identity(lm), tokenizer), folder)
    model = RewardModel(lm)
    if config["lora"] is not None:
        lora = config["lora"]
        inject_lora(lm, LoRAConfig(r=lora["r"], alpha=lora["alpha"], dropout=lora["dropout"],
                                   targets=tuple(lora["targets"]), rslora=lora["rslora"]))
    weights = load_file(folder / WEIGHTS_FILE)
    params = dict(model.named_parameters())
    expected = {n for n, p in params.items() if p.requires_grad} if config["lora"] is not None else set(params)
    if set(weights) != expected:
        raise ValueError(f"{folder / WEIGHTS_FILE} does not fit its config (missing "
                         f"{sorted(expected - set(weights))[:3]}, unexpected {sorted(set(weights) - expected)[:3]})")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
    model.requires_grad_(False)
    model.mean, model.std = config["normalisation"]["mean"], config["normalisation"]["std"]
    return model.eval(), tokenizer, config
