"""Where a rollout's score comes from: a trained reward model (rlhf.reward_model) or a rule a user writes as a
Python function, passed as `--reward-fn module:function` (module importable, or a path/to/file.py):

    def my_reward(prompts: list, completions: list[str]) -> list[float]:
        '''prompts as in the pair file (str or chat messages), completions the decoded responses.'''
        return [1.0 if "repair" in c.lower() else 0.0 for c in completions]

A Scorer maps a Rollout to its raw scores (B,) float32; `penalised` subtracts eos_penalty from the score of
every response that ran out of tokens before its end-of-turn token (Huang et al. 2024).
"""
from __future__ import annotations

import importlib
import importlib.util
import math
from pathlib import Path
from typing import Callable

import torch

from .rollout import Rollout

Scorer = Callable[[Rollout], torch.Tensor]


def load_reward_fn(spec: str) -> Callable[[list, list[str]], list[float]]:
    """The function named by 'module:function' or 'path/to/file.py:function'; ValueError saying what is wrong."""
    module_name, sep, name = spec.rpartition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"--reward-fn {spec!r}: expected module:function (or path/to/file.py:function)")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"--reward-fn {spec!r}: no file {path}")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"--reward-fn {spec!r}: cannot import {module_name} ({e})") from e
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"--reward-fn {spec!r}: {module_name} has no function {name!r}")
    return fn


def function_scorer(fn: Callable[[list, list[str]], list[float]], name: str = "reward function") -> Scorer:
    """A Scorer calling fn(prompts, completions); its answer must be one finite number per completion."""
    def score(rollout: Rollout) -> torch.Tensor:
        answer = fn(list(rollout.prompts), list(rollout.completions))
        try:
            values = [float(v) for v in answer]
        except (TypeError, ValueError):
            values = []
        if len(values) != len(rollout) or not all(math.isfinite(v) for v in values):
            raise ValueError(f"{name} must return {len(rollout)} finite numbers (one per completion), "
                             f"got {str(answer)[:200]}")
        return torch.tensor(values, dtype=torch.float32, device=rollout.input_ids.device)
    return score


def penalised(scores: torch.Tensor, ended: torch.Tensor, eos_penalty: float) -> torch.Tensor:
    """score - eos_penalty for each response without its end-of-turn token (B,)."""
    return scores - eos_penalty * (~ended).to(scores.dtype)
