import json
import os
from pathlib import Path

import pytest
import torch

from dpo import models
from dpo.data import encode_prompt
from dpo.models import ModelError, load_model


def test_tiny_random_is_deterministic_llama_with_chat_template():
    (m1, tok), (m2, _) = load_model("tiny-random"), load_model("tiny-random")
    assert m1.config.model_type == "llama" and m1.config.num_hidden_layers <= 4
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    ids = encode_prompt(tok, "Which fridge?")
    text = tok.decode(ids)
    assert text == "<|im_start|>user\nWhich fridge?<|im_end|>\n<|im_start|>assistant\n"
    assert tok.decode(tok("zoë €", add_special_tokens=False)["input_ids"]) == "zoë €"  # byte-level round trip


def test_tiny_random_trains(tiny):
    model, tok = tiny
    x = torch.tensor([tok("hello world", add_special_tokens=False)["input_ids"]])
    before = model.model.layers[0].self_attn.q_proj.weight.clone()
    model.train()
    model(x, labels=x).loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(before, model.model.layers[0].self_attn.q_proj.weight)


def test_clear_quantization_flags_allows_save(tmp_path, tiny):
    """transformers 5.x keeps a GGUF-loaded model flagged as quantized; cleared flags let it save."""
    model, tok = tiny
    model.config.quantization_config = {"quant_method": "gguf", "dequantize": False}
    model.is_quantized, model.quantization_method = True, "gguf"
    models.clear_quantization_flags(model)
    assert model.hf_quantizer is None and not model.is_quantized
    assert not hasattr(model.config, "quantization_config")
    model.save_pretrained(tmp_path)
    assert "quantization_config" not in json.loads((tmp_path / "config.json").read_text())


def test_cache_root_env_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("COMMONGOOD_CACHE", str(tmp_path / "env"))
    assert models.cache_root() == tmp_path / "env"
    assert models.cache_root(tmp_path / "flag") == tmp_path / "flag"


def test_incomplete_cache_folder_gives_fix(tmp_path):
    folder = tmp_path / "smollm2-135m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"incomplete.*python -m dpo.models prepare"):
        load_model("smollm2-135m", cache_dir=tmp_path)


def test_corrupt_weights_in_cache_gives_fix(tmp_path, tiny):
    model, tok = tiny
    folder = tmp_path / "smollm2-135m"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "prepared.json").write_text("{}")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    with pytest.raises(ModelError, match=r"could not be loaded.*rm -rf"):
        load_model("smollm2-135m", cache_dir=tmp_path)


def test_corrupt_gguf_detected_by_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "installed_member", lambda *args: None)
    gguf = tmp_path / "gguf" / Path(models.SMOLLM2.member).name
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF not really")
    with pytest.raises(ModelError, match=r"corrupt.*prepare"):
        models.find_embedded_gguf(tmp_path)


def test_unreadable_gguf_path_gives_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="could not be read"):
        load_model(str(bad))


def test_interrupted_preparation_leaves_no_usable_folder(tmp_path, monkeypatch):
    def boom(path, dtype):
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "find_embedded_gguf", lambda cache_dir, spec: tmp_path / "x.gguf")
    monkeypatch.setattr(models, "load_gguf", boom)
    with pytest.raises(KeyboardInterrupt):
        models.prepare_embedded(tmp_path)
    assert not (tmp_path / "smollm2-135m").exists()
    assert not list(tmp_path.glob(".smollm2-135m.tmp-*"))


def test_unknown_name_never_downloads():
    with pytest.raises(ModelError, match="nothing is downloaded"):
        load_model("someone/not-a-cached-model")
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.real_model
def test_prepared_model_matches_gguf_logits(smollm2):
    model, tok = smollm2
    gguf = models.find_embedded_gguf()
    direct, _ = models.load_gguf(gguf)
    ids = torch.tensor([encode_prompt(tok, "Should I buy an A-class or a D-class washing machine?")])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, direct(ids).logits)
    assert model.config.model_type == "llama"
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000


@pytest.mark.real_model
def test_real_model_answers_advisory_question_coherently(smollm2):
    model, tok = smollm2
    prompt = "I want to buy a new refrigerator for my family. What should I look at before buying one?"
    ids = torch.tensor([encode_prompt(tok, prompt)])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=48, do_sample=False)
    answer = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).lower()
    words = answer.split()
    assert len(words) >= 15, answer
    assert len(set(words)) / len(words) > 0.4, answer  # not a degenerate repetition loop
    assert any(w in answer for w in ("refrigerator", "fridge", "energy", "size", "capacity")), answer


@pytest.mark.real_model
def test_real_model_saves_and_trains(smollm2, tmp_path):
    model, tok = smollm2
    model.save_pretrained(tmp_path)  # refused while the GGUF quantizer flag is set
    assert (tmp_path / "model.safetensors").exists()
    weight = model.model.layers[0].self_attn.q_proj.weight
    before = weight.detach().clone()
    ids = torch.tensor([encode_prompt(tok, "hi")])
    model.train()
    try:
        model(ids, labels=ids).loss.backward()
        with torch.no_grad():
            weight -= 1e-3 * weight.grad
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()
    assert not torch.equal(before, weight)
    with torch.no_grad():
        weight.copy_(before)  # the session-scoped model is shared by other tests


def test_loaded_tokenizer_always_pads(tmp_path, tiny):
    model, tok = tiny
    tok.pad_token = None
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    _, loaded = load_model(str(tmp_path))
    assert loaded.pad_token_id == loaded.eos_token_id is not None


def test_eval_mode_restores_previous_mode_even_on_error(tiny):
    model, _ = tiny
    model.train()
    with pytest.raises(RuntimeError):
        with models.eval_mode(model):
            assert not model.training
            raise RuntimeError
    assert model.training
    model.eval()
    with models.eval_mode(model):
        pass
    assert not model.training


def same_weights(model, **config_changes):
    """A model of the same class and weights as `model` under a changed config."""
    other = type(model)(type(model.config).from_dict({**model.config.to_dict(), **config_changes}))
    other.load_state_dict(model.state_dict())
    return other.eval()


def test_model_identity_sees_the_config_not_only_the_weights(tiny):
    model, _ = tiny
    assert models.model_identity(same_weights(model)) == models.model_identity(model)
    eager = same_weights(model)
    eager.set_attn_implementation("eager")
    variants = [model, eager, same_weights(model, rms_norm_eps=1e-5),
                same_weights(model, rope_parameters={"rope_type": "default", "rope_theta": 500000.0})]
    assert len({models.model_identity(m) for m in variants}) == len(variants)
