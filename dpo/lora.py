"""LoRA (Hu et al. 2021, arXiv:2106.09685): low-rank adapters on frozen linear layers, and adapter files.

A wrapped layer computes  y = W x + b + s * B A dropout(x),  with A (r, in) Kaiming-uniform, B (out, r) zeros
(so the wrapped model starts equal to the base), s = alpha / r, or alpha / sqrt(r) with rsLoRA
(Kalajdzievski 2023, arXiv:2312.03732). Only A and B are trained.

Adapter folders use PEFT's on-disk format, written by this file (PEFT is not a dependency), so PEFT, vLLM
and other tools load them:
  adapter_config.json        {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r", "lora_alpha", ...}
  adapter_model.safetensors  base_model.model.<module path>.lora_A.weight (r, in) / .lora_B.weight (out, r)
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dpo.files import atomic_folder, atomic_write, write_text

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_PEFT_PREFIX = "base_model.model."
_MUST_BE_OFF = ("use_dora", "fan_in_fan_out", "rank_pattern", "alpha_pattern", "modules_to_save", "lora_bias",
                "exclude_modules", "layers_to_transform", "layer_replication", "target_parameters",
                "trainable_token_indices", "use_qalora")  # PEFT features this file does not implement


class AdapterError(ValueError):
    """An adapter folder cannot be read; the message names the file."""


@dataclass(frozen=True)
class LoRAConfig:
    """targets: module-name suffixes to wrap (PEFT semantics: "q_proj" matches "...self_attn.q_proj")."""
    r: int = 8
    alpha: float = 16
    dropout: float = 0.0
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    rslora: bool = False

    def __post_init__(self):
        if self.r < 1:
            raise ValueError(f"LoRA rank r must be >= 1, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        if isinstance(self.targets, str) or not self.targets:
            raise ValueError(f"LoRA targets must be a non-empty tuple of module-name suffixes, got {self.targets!r}")

    @property
    def scaling(self) -> float:
        return self.alpha / (math.sqrt(self.r) if self.rslora else self.r)


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update; `disabled` gives the base output,
    merge()/unmerge() fold the update into the base weight and back."""

    def __init__(self, base: nn.Linear, config: LoRAConfig):
        super().__init__()
        self.base = base
        self.config = config
        self.scaling = config.scaling
        kw = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Linear(base.in_features, config.r, bias=False, **kw)
        self.lora_B = nn.Linear(config.r, base.out_features, bias=False, **kw)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.disabled = False
        self.merged = False
        for p in base.parameters():
            p.requires_grad_(False)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        y = self.base(x)
        if self.disabled or self.merged:
            return y
        return y + self.lora_B(self.lora_A(self.dropout(x))) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """s * B A, (out, in): what merge() adds to the base weight."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        if self.merged:
            raise RuntimeError("LoRA layer is already merged")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            raise RuntimeError("LoRA layer is not merged")
        self.base.weight -= self.delta_weight()
        self.merged = False


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """{module name: layer} of every LoRALinear in the model."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def target_modules(model: nn.Module, config: LoRAConfig) -> dict[str, nn.Linear]:
    """{name: module} of the nn.Linear modules whose name ends with one of config.targets; every target
    must match at least one module (a misspelled target is an error, not a silently smaller adapter), and
    none may share its weight with another module (a tied output head)."""
    matches = lambda name, t: name == t or name.endswith("." + t)  # noqa: E731
    linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    unmatched = [t for t in config.targets if not any(matches(name, t) for name in linears)]
    if unmatched or not config.targets:
        names = sorted({n.rsplit(".", 1)[-1] for n in linears})
        raise ValueError(f"LoRA targets {unmatched or list(config.targets)} match no nn.Linear module; linear modules: {names}")
    targets = {name: m for name, m in linears.items() if any(matches(name, t) for t in config.targets)}
    owners: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        owners.setdefault(id(p), []).append(name)
    for name, m in targets.items():
        others = [o for o in owners[id(m.weight)] if o != f"{name}.weight"]
        if others:
            raise ValueError(f"LoRA target '{name}' shares its weight with {others[0]} (tied weights, e.g. "
                             "tie_word_embeddings): merging its adapter would change both; choose other targets")
    return targets


def inject_lora(model: nn.Module, config: LoRAConfig) -> list[str]:
    """Freeze every parameter of `model`, then wrap each nn.Linear whose name ends with a target in a
    LoRALinear (in place). Returns the wrapped module names."""
    if lora_layers(model):
        raise ValueError("model already has LoRA layers; inject_lora applies to a plain model")
    targets = target_modules(model, config)
    for p in model.parameters():
        p.requires_grad_(False)
    for name, linear in targets.items():
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, LoRALinear(linear, config))
    return list(targets)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that require gradients (after inject_lora: the LoRA A and B matrices)."""
    return [p for p in model.parameters() if p.requires_grad]


@contextlib.contextmanager
def adapters_disabled(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block the model computes its base outputs: it serves as its own DPO reference."""
    layers = list(lora_layers(model).values())
    if not layers:
        raise ValueError("adapters_disabled: the model has no LoRA layers, so it cannot serve as its own reference")
    if any(layer.merged for layer in layers):
        raise RuntimeError("adapters_disabled: some LoRA layers are merged; unmerge them first")
    before = [layer.disabled for layer in layers]
    for layer in layers:
        layer.disabled = True
    try:
        yield model
    finally:
        for layer, state in zip(layers, before):
            layer.disabled = state


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and put the plain nn.Linear back (in place; irreversible)."""
    for name, layer in lora_layers(model).items():
        if not layer.merged:
            layer.merge()
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, layer.base)
    return model


# ----------------------------------------------------------------------------- adapter files

def adapter_config(model: nn.Module, base_model_name: str) -> dict:
    """The PEFT adapter_config.json of the model's LoRA layers (all must share one LoRAConfig)."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layers to save")
    configs = {layer.config for layer in layers.values()}
    if len(configs) != 1:
        raise ValueError(f"LoRA layers have different settings {configs}; the PEFT format needs one")
    config = configs.pop()
    return {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_model_name,
        "r": config.r, "lora_alpha": config.alpha, "lora_dropout": config.dropout, "use_rslora": config.rslora,
        "target_modules": saved_targets(model),
        "bias": "none", "fan_in_fan_out": False, "init_lora_weights": True, "inference_mode": True,
        "modules_to_save": None, "layers_to_transform": None, "layers_pattern": None,
        "rank_pattern": {}, "alpha_pattern": {}, "use_dora": False, "revision": None,
    }


def saved_targets(model: nn.Module) -> list[str]:
    """target_modules that select exactly the model's LoRA layers, for PEFT and for load_adapter (both match
    a target by full name or '.'-suffix): the leaf names ("q_proj") when they select no other linear
    module, else the full module paths (layer-specific targets)."""
    layers = lora_layers(model)
    leaf = lambda name: name.rsplit(".", 1)[-1]  # noqa: E731
    leaves = sorted({leaf(name) for name in layers})
    same_leaf = {name for name, m in model.named_modules()
                 if isinstance(m, (nn.Linear, LoRALinear)) and leaf(name) in leaves}
    return leaves if same_leaf == set(layers) else sorted(layers)


def save_adapter(model: nn.Module, folder: str | os.PathLike, base_model_name: str,
                 weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write adapter_config.json and adapter_model.safetensors (PEFT format) into `folder`, each atomically.
    weights: the model's state dict to take the A and B matrices from (an FSDP model's gathered full state)
    instead of its layers."""
    folder = Path(folder)
    config = adapter_config(model, base_model_name)
    weight = (lambda name, part: weights[f"{name}.{part}.weight"]) if weights is not None else \
        (lambda name, part: getattr(lora_layers(model)[name], part).weight)
    tensors = {f"{_PEFT_PREFIX}{name}.{part}.weight": weight(name, part).detach().cpu().contiguous()
               for name in lora_layers(model) for part in ("lora_A", "lora_B")}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / ADAPTER_WEIGHTS, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
    write_text(folder / ADAPTER_CONFIG, json.dumps(config, indent=2) + "\n")
    return folder


def read_adapter_config(folder: str | os.PathLike) -> LoRAConfig:
    """The LoRAConfig of a PEFT adapter folder; AdapterError for what this file does not support."""
    path = Path(folder) / ADAPTER_CONFIG
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise AdapterError(f"{path}: cannot read adapter config ({e})") from e
    if not isinstance(raw, dict):
        raise AdapterError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    required = {"peft_type": raw.get("peft_type") == "LORA", "bias": raw.get("bias", "none") == "none",
                "target_modules": isinstance(raw.get("target_modules"), list)}
    bad = [f"{k}={raw.get(k)!r}" for k in _MUST_BE_OFF if raw.get(k)]
    bad += [f"{k}={raw.get(k)!r}" for k, ok in required.items() if not ok]
    if bad:
        raise AdapterError(f"{path}: unsupported LoRA adapter settings: {', '.join(bad)}")
    try:
        return LoRAConfig(r=int(raw["r"]), alpha=raw["lora_alpha"], dropout=float(raw.get("lora_dropout", 0.0)),
                          targets=tuple(raw["target_modules"]), rslora=bool(raw.get("use_rslora", False)))
    except (KeyError, TypeError, ValueError) as e:
        raise AdapterError(f"{path}: bad LoRA settings ({type(e).__name__}: {e})") from e


def load_adapter(model: nn.Module, folder: str | os.PathLike) -> nn.Module:
    """Inject LoRA into a plain `model` per the folder's adapter_config.json and load its weights.
    Every check runs before the model is touched: on AdapterError it is left as it was."""
    folder = Path(folder)
    config = read_adapter_config(folder)
    path = folder / ADAPTER_WEIGHTS
    try:
        tensors = load_file(path)
    except Exception as e:  # safetensors raises its own error types on a damaged file
        raise AdapterError(f"{path}: cannot read adapter weights ({type(e).__name__}: {e})") from e
    try:
        targets = target_modules(model, config)
    except ValueError as e:
        raise AdapterError(f"{folder / ADAPTER_CONFIG}: {e}") from e
    shapes = {f"{_PEFT_PREFIX}{name}.{part}.weight": shape for name, m in targets.items()
              for part, shape in (("lora_A", (config.r, m.in_features)), ("lora_B", (m.out_features, config.r)))}
    missing, unexpected = sorted(set(shapes) - set(tensors)), sorted(set(tensors) - set(shapes))
    if missing or unexpected:
        raise AdapterError(f"{path}: adapter weights do not fit the model: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    for key, value in tensors.items():
        if tuple(value.shape) != shapes[key]:
            raise AdapterError(f"{path}: {key} has shape {tuple(value.shape)}, the model needs {shapes[key]}")
    inject_lora(model, config)
    layers = lora_layers(model)
    with torch.no_grad():
        for key, value in tensors.items():
            name, part, _ = key[len(_PEFT_PREFIX):].rsplit(".", 2)
            getattr(layers[name], part).weight.copy_(value)
    return model


def merged_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with every adapter folded in, under the plain (un-wrapped) parameter names."""
    state = dict(model.state_dict())
    for name, layer in lora_layers(model).items():
        for key in [k for k in state if k.startswith(f"{name}.")]:
            del state[key]
        weight = layer.base.weight.detach()
        state[f"{name}.weight"] = weight if layer.merged else weight + layer.delta_weight().detach()
        if layer.base.bias is not None:
            state[f"{name}.bias"] = layer.base.bias.detach()
    return state


def export_merged(model: nn.Module, tokenizer, folder: str | os.PathLike) -> Path:
    """Write a plain transformers folder (weights with adapters merged, config, tokenizer), without LoRA
    modules, leaving `model` unchanged. Written to a temporary folder renamed at the end."""
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        model.save_pretrained(tmp, state_dict=merged_state_dict(model))
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    return folder

