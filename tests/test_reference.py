import pytest
import torch

from dpo import reference
from dpo.data import PreferencePair, Truncation, collate, read_pairs, tokenize_pairs
from dpo.logprobs import concatenated_forward
from dpo.lora import LoRAConfig, inject_lora
from dpo.reference import reference_logps

PAIRS = [PreferencePair(prompt=f"Question {i}: which supplier? " * (1 + i % 3),
                        chosen="The audited one. " * (1 + i % 4), rejected=f"Cheapest {i}.") for i in range(7)]
TRUNC = Truncation(160, 80)


def examples_of(tok, pairs=PAIRS, trunc=TRUNC):
    return tokenize_pairs(tok, pairs, trunc).examples


def run(model, tok, tmp_path, examples=None, **kw):
    return reference_logps(model, examples if examples is not None else examples_of(tok), pad_id=tok.pad_token_id,
                           cache_dir=tmp_path, batch_size=3, **kw)


def test_cache_equals_on_the_fly_values_and_is_reused(tiny, tmp_path, monkeypatch):
    model, tok = tiny
    examples = examples_of(tok)
    first = run(model, tok, tmp_path)
    assert not first.from_cache and first.path.exists() and first.key[:24] in first.path.name
    for i, ex in enumerate(examples):  # one example at a time, in the original order
        with torch.no_grad():
            chosen, rejected = concatenated_forward(model, collate([ex], tok.pad_token_id))
        got_c, got_r = first.select([i])
        for got, want in ((got_c, chosen), (got_r, rejected)):
            assert torch.equal(got.count, want.count)
            torch.testing.assert_close(got.sum, want.sum, rtol=0, atol=1e-5 * want.count.item())
            torch.testing.assert_close(got.mean, want.mean, rtol=0, atol=1e-5)

    monkeypatch.setattr(reference, "compute_logps", lambda *a, **k: pytest.fail("a cache hit must not recompute"))
    second = run(model, tok, tmp_path)
    assert second.from_cache and second.path == first.path
    for a, b in ((second.chosen, first.chosen), (second.rejected, first.rejected)):
        assert torch.equal(a.sum, b.sum) and torch.equal(a.mean, b.mean) and torch.equal(a.count, b.count)
    chosen, rejected = second.select(torch.tensor([4, 1]))
    assert torch.equal(chosen.sum, first.chosen.sum[[4, 1]])
    assert torch.equal(rejected.count, first.rejected.count[[4, 1]])


def test_changes_that_alter_the_numbers_give_a_new_cache(tiny, tmp_path):
    model, tok = tiny
    base = run(model, tok, tmp_path).key
    changed_data = PAIRS[:-1] + [PreferencePair(prompt=PAIRS[-1].prompt, chosen="Another answer.", rejected="No.")]
    short = Truncation(40, 30)
    assert tokenize_pairs(tok, PAIRS, short).truncated > 0
    keys = {"data": run(model, tok, tmp_path, examples_of(tok, changed_data)).key,
            "max_length": run(model, tok, tmp_path, examples_of(tok, trunc=short)).key,
            "precision": run(model, tok, tmp_path, precision="bf16").key}
    tok.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    keys["tokenizer"] = run(model, tok, tmp_path).key
    with torch.no_grad():
        model.model.norm.weight.mul_(1.01)
    keys["model"] = run(model, tok, tmp_path, examples_of(tok)).key
    assert base not in keys.values() and len(set(keys.values())) == len(keys)
    assert len(list(tmp_path.glob("reference-*.safetensors"))) == 1 + len(keys)


def test_same_weights_under_another_config_or_library_get_another_cache(tiny, tmp_path, monkeypatch):
    model, tok = tiny
    base = run(model, tok, tmp_path)
    other = type(model)(type(model.config).from_dict({**model.config.to_dict(), "rope_parameters": {
        "rope_type": "default", "rope_theta": 500000.0}}))
    other.load_state_dict(model.state_dict())  # the weights are equal, rotary inv_freq is not
    again = run(other.eval(), tok, tmp_path)
    assert not again.from_cache and again.key != base.key
    assert not torch.allclose(again.chosen.sum, base.chosen.sum)  # a reused cache would have been stale
    monkeypatch.setattr("transformers.__version__", "0.0.1")  # by name: transformers replaces its module object
    assert not run(model, tok, tmp_path).from_cache


def test_a_new_sample_of_cached_pairs_computes_only_its_new_pairs(tiny, tmp_path, monkeypatch):
    """Rows are reused across cache files of the same context, matched by example: a superset (another seed's
    sample, a grown pair file) computes only the examples no earlier file holds; another precision none."""
    model, tok = tiny
    examples = examples_of(tok)
    fresh = reference_logps(model, examples, pad_id=tok.pad_token_id, cache_dir=None, batch_size=3)
    run(model, tok, tmp_path, examples[:4])
    run(model, tok, tmp_path, examples[5:])
    computed = []
    compute = reference.compute_logps
    monkeypatch.setattr(reference, "compute_logps", lambda m, exs, **k: computed.append(len(exs)) or compute(m, exs, **k))
    order = [6, 0, 4, 3, 1, 5, 2]
    mixed = run(model, tok, tmp_path, [examples[i] for i in order])
    assert computed == [1] and not mixed.from_cache  # example 4 only
    for side in ("chosen", "rejected"):
        got, want = getattr(mixed, side), getattr(fresh, side)
        assert torch.equal(got.count, want.count[order])
        torch.testing.assert_close(got.sum, want.sum[order], rtol=0, atol=1e-4)
        torch.testing.assert_close(got.mean, want.mean[order], rtol=0, atol=1e-5)
    assert run(model, tok, tmp_path, [examples[i] for i in order]).from_cache and computed == [1]
    run(model, tok, tmp_path, examples[:4], precision="bf16")
    assert computed == [1, 4]


@pytest.mark.parametrize("damage", ["truncate", "flip", "other_key"])
def test_damaged_cache_is_detected_and_rebuilt(tiny, tmp_path, damage, capsys):
    model, tok = tiny
    first = run(model, tok, tmp_path)
    data = first.path.read_bytes()
    if damage == "truncate":
        first.path.write_bytes(data[: len(data) - 9])
    elif damage == "flip":
        first.path.write_bytes(data[:-5] + bytes([data[-5] ^ 0x40]) + data[-4:])
    else:  # a valid file of other examples under this key's name
        other = run(model, tok, tmp_path / "other", examples_of(tok, PAIRS[:-1] + PAIRS[:1]))
        first.path.write_bytes(other.path.read_bytes())
    again = run(model, tok, tmp_path)
    assert not again.from_cache and "unusable" in capsys.readouterr().err
    torch.testing.assert_close(again.chosen.sum, first.chosen.sum)
    assert run(model, tok, tmp_path).from_cache  # the rebuilt file is good


def test_refuses_a_model_with_adapters(tiny, tmp_path):
    model, tok = tiny
    inject_lora(model, LoRAConfig())
    with pytest.raises(ValueError, match="before inject_lora"):
        run(model, tok, tmp_path)


def test_no_cache_dir_computes_without_writing(tiny, tmp_path):
    model, tok = tiny
    model.train()
    out = reference_logps(model, examples_of(tok), pad_id=tok.pad_token_id, cache_dir=None)
    assert out.path is None and out.chosen.sum.shape == (len(PAIRS),) and model.training
    assert not list(tmp_path.iterdir())


def test_reference_model_runs_only_before_training_and_never_again_with_the_cache(tmp_path, monkeypatch):
    """Reference log-probs come from one inference-mode pass before training: none of the epochs, and no
    later run over the same pairs, runs the reference model (the base without adapters) again."""
    from pathlib import Path

    from dpo import run as run_module
    from dpo.config import TrainConfig
    from dpo.lora import lora_layers
    from dpo.models import load_model

    forwards = []

    def instrumented(*args, **kwargs):
        model, tok = load_model(*args, **kwargs)
        model.get_decoder().register_forward_pre_hook(
            lambda module, *_: forwards.append("reference" if not lora_layers(model) else "policy"))
        return model, tok

    monkeypatch.setattr(run_module, "load_model", instrumented)
    pairs = Path(__file__).resolve().parents[1] / "data" / "examples" / "pairs.jsonl"
    cfg = dict(model="tiny-random", data=[str(pairs)], eval_data=[str(pairs)], max_eval_pairs=4, precision="fp32",
               batch_size=4, epochs=3, eval_every=100, save_every=100, max_length=256, max_prompt_length=128,
               lora_r=4, lora_alpha=8, ref_batch_size=8, cache_dir=str(tmp_path / "cache"))
    run_module.run_training(TrainConfig(**cfg, out=str(tmp_path / "first")))
    n_train = len(read_pairs(pairs)[0])
    reference_batches = -(-n_train // 8)  # the train pairs; the 4 eval pairs are among them: rows reused
    train_steps = 3 * -(-n_train // 4)
    assert forwards[:reference_batches] == ["reference"] * reference_batches
    assert forwards[reference_batches:].count("reference") == 0
    assert forwards.count("policy") == train_steps + 1  # each step, and the final eval
    forwards.clear()
    run_module.run_training(TrainConfig(**cfg, out=str(tmp_path / "second")))
    assert forwards == ["policy"] * (train_steps + 1)
