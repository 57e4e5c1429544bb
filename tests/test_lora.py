import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from dpo.lora import (AdapterError, LoRAConfig, LoRALinear, adapters_disabled, export_merged, inject_lora,
                      load_adapter, lora_layers, merge_lora, save_adapter, trainable_parameters)
from dpo.models import load_model

CONFIG = LoRAConfig(r=4, alpha=8, targets=("q_proj", "v_proj", "down_proj"))


@pytest.fixture
def ids(tiny):
    _, tok = tiny
    return torch.tensor([tok("Which fridge meets the EU rules?", add_special_tokens=False)["input_ids"]])


def logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


def perturb(model, seed=1):
    """Give every adapter a non-zero B so the adapters change the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g) * 0.1)


def test_inject_wraps_targets_freezes_base_and_starts_equal(tiny, ids):
    model, _ = tiny
    base = logits(model, ids)
    names = inject_lora(model, CONFIG)
    assert len(names) == 3 * model.config.num_hidden_layers
    assert all(n.rsplit(".", 1)[-1] in CONFIG.targets for n in names)
    layer = lora_layers(model)[names[0]]
    assert layer.lora_A.weight.shape == (4, layer.base.in_features) and layer.lora_A.weight.abs().sum() > 0
    assert torch.equal(layer.lora_B.weight, torch.zeros_like(layer.lora_B.weight))
    assert torch.equal(logits(model, ids), base)
    trainable = trainable_parameters(model)
    assert len(trainable) == 2 * len(names)
    assert {id(p) for p in trainable} == {id(getattr(l, part).weight) for l in lora_layers(model).values()
                                          for part in ("lora_A", "lora_B")}


def test_a_target_tied_to_another_module_is_refused(tiny):
    model, _ = tiny  # tie_word_embeddings: lm_head.weight is model.embed_tokens.weight
    with pytest.raises(ValueError, match=r"'lm_head' shares its weight with model\.embed_tokens\.weight"):
        inject_lora(model, LoRAConfig(targets=("q_proj", "lm_head")))
    assert not lora_layers(model)


def test_scaling_plain_and_rslora():
    assert LoRAConfig(r=16, alpha=32).scaling == 2.0
    assert LoRAConfig(r=16, alpha=32, rslora=True).scaling == 32 / math.sqrt(16)
    linear = torch.nn.Linear(6, 5)
    layer = LoRALinear(linear, LoRAConfig(r=2, alpha=3))
    perturb(torch.nn.Sequential(layer))
    x = torch.randn(4, 6)
    want = linear(x) + (x @ layer.lora_A.weight.T @ layer.lora_B.weight.T) * 1.5
    torch.testing.assert_close(layer(x), want)


def test_only_lora_parameters_get_gradients(tiny, ids):
    model, _ = tiny
    inject_lora(model, CONFIG)
    perturb(model)
    model(ids).logits.logsumexp(-1).sum().backward()
    for name, p in model.named_parameters():
        if ".lora_" in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_merge_unmerge_and_merge_lora(tiny, ids):
    model, _ = tiny
    inject_lora(model, CONFIG)
    perturb(model)
    adapted = logits(model, ids)
    for layer in lora_layers(model).values():
        layer.merge()
    torch.testing.assert_close(logits(model, ids), adapted, rtol=1e-5, atol=1e-5)
    for layer in lora_layers(model).values():
        layer.unmerge()
    torch.testing.assert_close(logits(model, ids), adapted, rtol=1e-5, atol=1e-5)
    merge_lora(model)
    assert not lora_layers(model)
    torch.testing.assert_close(logits(model, ids), adapted, rtol=1e-5, atol=1e-5)


def test_adapters_disabled_equals_base(tiny, ids):
    model, _ = tiny
    base = logits(model, ids)
    inject_lora(model, CONFIG)
    perturb(model)
    adapted = logits(model, ids)
    assert not torch.allclose(adapted, base)
    with adapters_disabled(model):
        assert torch.equal(logits(model, ids), base)
    assert torch.equal(logits(model, ids), adapted)
    with pytest.raises(ValueError, match="no LoRA layers"):
        with adapters_disabled(load_model("tiny-random")[0]):
            pass


def test_save_then_load_reproduces_outputs_exactly(tiny, ids, tmp_path):
    model, _ = tiny
    inject_lora(model, LoRAConfig(r=2, alpha=5, dropout=0.1, targets=("k_proj", "o_proj"), rslora=True))
    perturb(model)
    model.eval()
    save_adapter(model, tmp_path / "adapter", "tiny-random")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM" and config["bias"] == "none"
    assert (config["r"], config["lora_alpha"], config["lora_dropout"], config["use_rslora"]) == (2, 5, 0.1, True)
    assert config["target_modules"] == ["k_proj", "o_proj"] and config["base_model_name_or_path"] == "tiny-random"
    keys = set(load_file(tmp_path / "adapter" / "adapter_model.safetensors"))
    assert "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight" in keys and len(keys) == 8
    fresh, _ = load_model("tiny-random")
    load_adapter(fresh, tmp_path / "adapter")
    fresh.eval()
    assert torch.equal(logits(fresh, ids), logits(model, ids))
    assert len(trainable_parameters(fresh)) == 8


def test_layer_specific_targets_survive_save_and_load(tiny, ids, tmp_path):
    model, _ = tiny
    inject_lora(model, LoRAConfig(r=2, targets=("layers.0.self_attn.q_proj", "v_proj")))
    perturb(model)
    save_adapter(model, tmp_path / "adapter", "tiny-random")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["target_modules"] == sorted(lora_layers(model))  # full paths: leaf names would add layers.1
    fresh = load_adapter(load_model("tiny-random")[0], tmp_path / "adapter")
    assert set(lora_layers(fresh)) == set(lora_layers(model)) == {
        "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.v_proj"}
    assert torch.equal(logits(fresh.eval(), ids), logits(model.eval(), ids))


def test_load_adapter_rejects_bad_folders(tmp_path, tiny):
    model, _ = tiny
    inject_lora(model, CONFIG)
    folder = save_adapter(model, tmp_path / "a", "tiny-random")
    weights = load_file(folder / "adapter_model.safetensors")
    save_file({k: v for k, v in weights.items() if "layers.1" not in k}, folder / "adapter_model.safetensors")
    plain, _ = load_model("tiny-random")
    with pytest.raises(AdapterError, match="missing"):
        load_adapter(plain, folder)
    assert not lora_layers(plain)  # a failed load leaves the model as it was
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(AdapterError, match="use_dora"):
        load_adapter(load_model("tiny-random")[0], folder)
    (folder / "adapter_config.json").write_text("{not json")
    with pytest.raises(AdapterError, match="adapter_config.json"):
        load_adapter(load_model("tiny-random")[0], folder)


def test_export_merged_is_a_plain_transformers_folder(tiny, ids, tmp_path):
    model, tok = tiny
    inject_lora(model, CONFIG)
    perturb(model)
    adapted = logits(model, ids)
    export_merged(model, tok, tmp_path / "merged")
    assert lora_layers(model) and torch.equal(logits(model, ids), adapted)  # the model is left unchanged
    assert not any("lora" in k or ".base." in k for k in load_file(tmp_path / "merged" / "model.safetensors"))
    plain, _ = load_model(str(tmp_path / "merged"))
    assert not lora_layers(plain)
    torch.testing.assert_close(logits(plain, ids), adapted, rtol=1e-5, atol=1e-5)


@pytest.mark.interop
def test_peft_loads_our_adapter_and_we_load_peft_adapters(tiny, ids, tmp_path):
    peft = pytest.importorskip("peft")
    model, _ = tiny
    inject_lora(model, CONFIG)
    perturb(model)
    ours = logits(model, ids)
    save_adapter(model, tmp_path / "ours", "tiny-random")
    peft_model = peft.PeftModel.from_pretrained(load_model("tiny-random")[0], tmp_path / "ours")
    torch.testing.assert_close(logits(peft_model, ids), ours, rtol=0, atol=1e-6)

    one_layer, _ = load_model("tiny-random")
    inject_lora(one_layer, LoRAConfig(r=2, targets=("layers.1.mlp.down_proj",)))
    perturb(one_layer)
    save_adapter(one_layer, tmp_path / "one-layer", "tiny-random")
    peft_model = peft.PeftModel.from_pretrained(load_model("tiny-random")[0], tmp_path / "one-layer")
    assert sorted(n for n, m in peft_model.named_modules() if hasattr(m, "lora_A") and m.lora_A) == [
        "base_model.model.model.layers.1.mlp.down_proj"]
    torch.testing.assert_close(logits(peft_model, ids), logits(one_layer, ids), rtol=0, atol=1e-6)

    made_by_peft = peft.get_peft_model(load_model("tiny-random")[0], peft.LoraConfig(
        r=2, lora_alpha=4, target_modules=["k_proj", "up_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in made_by_peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    made_by_peft.save_pretrained(tmp_path / "peft")
    theirs = logits(made_by_peft, ids)
    loaded = load_adapter(load_model("tiny-random")[0], tmp_path / "peft")
    torch.testing.assert_close(logits(loaded, ids), theirs, rtol=0, atol=1e-6)
