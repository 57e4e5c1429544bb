import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpo.models import load_model  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread_unless_real_model(request):
    """The tiny model's ops are too small to gain from threads, and on a busy CPU they lose a lot to them;
    tests marked real_model keep every thread."""
    if request.node.get_closest_marker("real_model"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny():
    """A fresh tiny random Llama and its byte tokenizer: (model, tokenizer)."""
    torch.manual_seed(0)
    return load_model("tiny-random")


@pytest.fixture(scope="session")
def smollm2():
    """The embedded default model (prepared once into the user's cache): (model, tokenizer)."""
    return load_model("smollm2-135m")


@pytest.fixture(scope="session")
def count_tokens():
    """Token counts with the evaluated model's tokenizer (the embedded SmolLM2)."""
    from transformers import AutoTokenizer
    from dpo.models import prepare_embedded
    from eval.cues import token_counter
    return token_counter(AutoTokenizer.from_pretrained(prepare_embedded(), local_files_only=True))
