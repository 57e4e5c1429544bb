"""Mixed precision: what fp32, bf16 and fp16 mean on each device, in one place.

Weights stay fp32 (master weights); `autocast` runs matmuls in the low precision, on CUDA and on the CPU.
fp16 needs loss scaling (`grad_scaler`); bf16 does not. Log-softmax is always computed in fp32 by
dpo.logprobs, whatever the precision.
"""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """torch.autocast for bf16/fp16 on `device`; a no-op context for fp32."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=_DTYPES[precision])


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler:
    """Dynamic loss scaling, enabled only for fp16 (disabled scalers pass the loss through unchanged)."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=check_precision(precision) == "fp16")


def configure_device(device: torch.device | str) -> None:
    """TF32 matmuls and cuDNN convolutions on CUDA (Ampere and newer); nothing to do on the CPU."""
    if torch.device(device).type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
