import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpo.models import load_model  # noqa: E402


@pytest.fixture
def tiny():
    """A fresh tiny random Llama and its byte tokenizer: (model, tokenizer)."""
    torch.manual_seed(0)
    return load_model("tiny-random")


@pytest.fixture(scope="session")
def smollm2():
    """The embedded default model (prepared once into the user's cache): (model, tokenizer)."""
    return load_model("smollm2-135m")
