"""Mixed precision: what auto, fp32, bf16 and fp16 mean on each device, in one place.

Weights stay fp32 (master weights); `autocast` runs matmuls in the low precision, on CUDA and on the CPU.
fp16 needs loss scaling (`grad_scaler`); bf16 does not. Log-softmax is always computed in fp32 by
dpo.logprobs, whatever the precision. "auto" (the default everywhere) is bf16 where the device multiplies
bf16 natively (a CUDA GPU with bf16; a CPU with AVX512-BF16 or AMX) and fp32 elsewhere: on an AVX2-only CPU
bf16 matmuls are emulated, measured 1.1 GFLOP/s against 86 in fp32 (576x1536 weights, 2 cores). It is
resolved once, where the device is known (`resolve_precision`), and the resolved value is what runs record.
"""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16", "fp16")  # what runs; "auto" resolves to one of them
CHOICES = ("auto", *PRECISIONS)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        hint = " (resolve 'auto' first: dpo.precision.resolve_precision)" if precision == "auto" else ""
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}{hint}")
    return precision


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` multiplies bf16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """'auto' -> 'bf16' where native_bf16(device), else 'fp32'; any other precision is checked and returned."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return check_precision(precision)


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """torch.autocast for bf16/fp16 on `device`; a no-op context for fp32 ("auto" resolved for `device`)."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=_DTYPES[precision])


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler:
    """Dynamic loss scaling, enabled only for fp16 (disabled scalers pass the loss through unchanged)."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=resolve_precision(precision, device) == "fp16")


def configure_device(device: torch.device | str) -> None:
    """TF32 matmuls and cuDNN convolutions on CUDA (Ampere and newer); nothing to do on the CPU."""
    if torch.device(device).type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
