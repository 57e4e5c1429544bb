"""Packed pairs (dpo.data.pack_pairs + dpo.attention): the same log-probs and gradients as the padded path."""
import pytest
import torch

from dpo import attention, logprobs
from dpo.data import IGNORE_INDEX, PreferencePair, Truncation, collate, pack_pairs, tokenize_pairs
from dpo.logprobs import batch_pairs, concatenated_forward
from dpo.lora import LoRAConfig, inject_lora, lora_layers
from dpo.precision import autocast

PAIRS = [
    PreferencePair(prompt="Which fridge should the canteen buy? " * 2, chosen="The A-rated one, per ecodesign. " * 3,
                   rejected="The cheapest."),
    PreferencePair(prompt="Hire for the lab?", chosen="Use the same criteria for every candidate.",
                   rejected="Use the same criteria, then pick whoever you like best."),  # responses share a start
    PreferencePair(prompt="Lamp?", chosen="The LED lamp", rejected="The LED lamp, it is cheap and lasts long."),
    PreferencePair(prompt="Tyres for the van? " * 5, chosen="Class A tyres.", rejected="Any, the label is optional."),
]


@pytest.fixture
def examples(tiny):
    _, tok = tiny
    return tokenize_pairs(tok, PAIRS, Truncation(256, 128)).examples


def lora_model(model):
    inject_lora(model, LoRAConfig(r=4, targets=("q_proj", "v_proj", "o_proj")))
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.weight.normal_(0, 0.1)
    return model.train()


def forward_and_grads(model, batch):
    params = [p for p in model.parameters() if p.requires_grad]
    chosen, rejected = concatenated_forward(model, batch)
    loss = (1.3 * chosen.sum - 0.7 * rejected.sum + chosen.mean - 2.0 * rejected.mean).sum()
    return chosen, rejected, torch.autograd.grad(loss, params)


def assert_same(got, want, *, atol=1e-4, grad_rtol=1e-4):
    for g, w in zip(got[:2], want[:2]):
        assert torch.equal(g.count, w.count)
        torch.testing.assert_close(g.sum, w.sum, rtol=0, atol=atol * w.count.max().item())
        torch.testing.assert_close(g.mean, w.mean, rtol=0, atol=atol)
    for g, w in zip(got[2], want[2]):
        assert w.abs().sum() > 0
        torch.testing.assert_close(g, w, rtol=grad_rtol, atol=grad_rtol * w.abs().max().item())


def test_layout_shares_the_common_prefix_once(examples):
    packed = pack_pairs(examples)
    ids, pos = packed.input_ids[0].tolist(), packed.position_ids[0].tolist()
    start = 0
    for i, ex in enumerate(examples):
        c, r = ex["chosen_input_ids"], ex["rejected_input_ids"]
        s = packed.shared[i]
        assert ex["chosen_labels"][:s].count(IGNORE_INDEX) >= ex["chosen_labels"].count(IGNORE_INDEX)  # the prompt, at least
        assert (packed.chosen[i], packed.rejected[i]) == (len(c) - s, len(r) - s) and c[:s] == r[:s]
        assert ids[start:start + len(c)] == c and ids[start + len(c):start + len(c) + len(r) - s] == r[s:]
        assert pos[start:start + len(c) + len(r) - s] == list(range(len(c))) + list(range(s, len(r)))
        start += len(c) + len(r) - s
    assert start == len(ids)
    assert packed.shared[1] > examples[1]["chosen_labels"].count(IGNORE_INDEX)  # "Use the same criteria" too
    assert packed.chosen[2] == 1  # "The LED lamp" is shared: only chosen's end-of-turn token is its own
    n = len(examples)
    for seq in range(2 * n):  # each sequence's scored positions hold its tokens t and predict its labels t + 1
        x, labels = (examples[seq % n][f"{'chosen' if seq < n else 'rejected'}_{k}"] for k in ("input_ids", "labels"))
        scored = [t for t in range(len(x) - 1) if labels[t + 1] != IGNORE_INDEX]
        mine = packed.sequence == seq
        assert [ids[i] for i in packed.index[mine]] == [x[t] for t in scored]
        assert packed.target[mine].tolist() == [labels[t + 1] for t in scored]


def test_packed_forward_equals_padded_forward_and_gradients(tiny, examples):
    model = lora_model(tiny[0])
    assert_same(forward_and_grads(model, pack_pairs(examples)), forward_and_grads(model, collate(examples, 0)))


def test_gradient_checkpointing_recomputes_through_pair_attention(tiny, examples):
    model = lora_model(tiny[0])
    want = forward_and_grads(model, collate(examples, 0))
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    calls = []
    model.model.layers[0].mlp.register_forward_pre_hook(lambda *a: calls.append(1))
    assert_same(forward_and_grads(model, pack_pairs(examples)), want)
    assert len(calls) == 2  # forward, then the recomputation in backward


def test_sdpa_path_of_other_devices_equals_cpu_path(tiny, examples, monkeypatch):
    model = lora_model(tiny[0])
    want = forward_and_grads(model, pack_pairs(examples))
    monkeypatch.setattr(attention, "_pair_math", attention._pair_sdpa)  # what CUDA runs
    assert_same(forward_and_grads(model, pack_pairs(examples)), want, atol=1e-5, grad_rtol=1e-5)


def test_bf16_packed_close_to_padded(tiny, examples):
    model = tiny[0]
    with torch.no_grad(), autocast("cpu", "bf16"):
        packed = concatenated_forward(model, pack_pairs(examples))
        padded = concatenated_forward(model, collate(examples, 0))
    for p, q in zip(packed, padded):
        torch.testing.assert_close(p.mean, q.mean, rtol=0, atol=0.05)  # bf16 rounding, different matmul shapes


def test_plain_forwards_are_untouched_by_the_installed_attention(tiny, examples):
    model = tiny[0]
    batch = collate(examples, 0)
    ids, mask = batch["chosen_input_ids"], batch["chosen_attention_mask"]
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits
        attention.install()
        attention.install()  # idempotent
        after = model(input_ids=ids, attention_mask=mask).logits
    assert torch.equal(before, after)


def test_models_that_cannot_pack_get_padded_batches(tiny, examples, monkeypatch):
    model = tiny[0]
    assert isinstance(batch_pairs(model, examples, 0), type(pack_pairs(examples)))
    model.config._attn_implementation = "eager"
    batch = batch_pairs(model, examples, 0)
    assert isinstance(batch, dict) and batch["chosen_input_ids"].shape[0] == len(examples)
    with pytest.raises(ValueError, match="packed pairs need"):
        concatenated_forward(model, pack_pairs(examples))
    model.config._attn_implementation = "sdpa"
    monkeypatch.setattr(logprobs, "PLAIN_HEAD_MODELS", frozenset())
    assert isinstance(batch_pairs(model, examples, 0), dict)


def test_attention_refuses_a_row_that_does_not_match_its_layout():
    q = torch.zeros(1, 4, 10, 8)
    kv = torch.zeros(1, 2, 10, 8)
    with pytest.raises(ValueError, match="does not match a packed row of 9 positions"):
        attention.pair_attention(q, kv, kv, [(3, 3, 3)], scaling=1.0)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_dpo_loss_and_gradients_match_the_padded_path(tiny, examples, precision):
    from dpo.config import TrainConfig
    from dpo.trainer import pair_loss
    examples[1] = {**examples[1], "confidence": 0.8}  # a soft label travels with the packed batch too
    assert torch.equal(pack_pairs(examples).confidence, collate(examples, 0)["confidence"])
    model = lora_model(tiny[0])
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():  # a reference a little off the policy, so the loss is not saturated
        ref = tuple(logprobs.SequenceLogps(s.sum + shift, s.mean, s.count) for s, shift in
                    zip(concatenated_forward(model, collate(examples, 0)), (torch.tensor([3.0, -2, 1, 0]), 1.5)))
    cfg = TrainConfig(beta=0.1, loss="sigmoid", precision=precision)

    def loss_and_grads(batch):
        with autocast("cpu", precision):
            loss, _ = pair_loss(model, batch, ref, cfg)
        return loss, torch.autograd.grad(loss, params)

    (packed, packed_grads), (padded, padded_grads) = loss_and_grads(pack_pairs(examples)), loss_and_grads(collate(examples, 0))
    loss_tolerance, grad_tolerance = {"fp32": (1e-6, 1e-4), "bf16": (1e-3, 5e-2)}[precision]
    assert 0.3 < padded.item() < 2.0
    torch.testing.assert_close(packed, padded, rtol=loss_tolerance, atol=loss_tolerance)
    for g, w in zip(packed_grads, padded_grads):
        torch.testing.assert_close(g, w, rtol=grad_tolerance, atol=grad_tolerance * w.abs().max().item())


@pytest.mark.real_model
def test_real_model_packed_equals_padded(smollm2):
    model, tok = smollm2
    examples = tokenize_pairs(tok, PAIRS, Truncation(256, 128)).examples
    with torch.no_grad():
        packed = concatenated_forward(model, pack_pairs(examples))
        padded = concatenated_forward(model, collate(examples, tok.pad_token_id))
    for p, q in zip(packed, padded):
        assert torch.equal(p.count, q.count)
        torch.testing.assert_close(p.mean, q.mean, rtol=0, atol=1e-4)
