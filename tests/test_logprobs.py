import pytest
import torch

from dpo import logprobs
from dpo.data import IGNORE_INDEX, PreferencePair, Truncation, collate, encode_response, tokenize_pairs
from dpo.logprobs import concatenated_forward, forward_logps, sequence_logps
from dpo.lora import LoRAConfig, inject_lora, lora_layers
from dpo.precision import autocast

PAIRS = [PreferencePair(prompt="Which fridge? " * k, chosen="A-rated, per EU ecodesign. " * k,
                        rejected="The cheapest.") for k in (1, 2, 4)]


def batch_of(tok, pairs=PAIRS, max_length=256):
    return collate(tokenize_pairs(tok, pairs, Truncation(max_length, max_length // 2)).examples, tok.pad_token_id)


def naive_logps(model, input_ids, attention_mask, labels) -> torch.Tensor:
    """Plain per-token loop: sum of log_softmax(logits[t])[labels[t+1]] over labelled positions, (B,)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    sums = []
    for b in range(input_ids.shape[0]):
        total = torch.zeros(())
        for t in range(input_ids.shape[1] - 1):
            if labels[b, t + 1] != IGNORE_INDEX:
                total = total + torch.log_softmax(logits[b, t].float(), dim=-1)[labels[b, t + 1]]
        sums.append(total)
    return torch.stack(sums)


def side(batch, s):
    return batch[f"{s}_input_ids"], batch[f"{s}_attention_mask"], batch[f"{s}_labels"]


@pytest.mark.parametrize("chunk", [None, 5])
def test_forward_logps_equals_per_token_loop_fp32(tiny, chunk):
    model, tok = tiny
    batch = batch_of(tok)
    with torch.no_grad():
        for s in ("chosen", "rejected"):
            got = forward_logps(model, *side(batch, s), chunk_tokens=chunk)
            want = naive_logps(model, *side(batch, s))
            counts = (batch[f"{s}_labels"][:, 1:] != IGNORE_INDEX).sum(1).float()
            assert torch.equal(got.count, counts)
            torch.testing.assert_close(got.sum, want, rtol=0, atol=1e-5 * counts.max().item())  # 1e-5 a token
            torch.testing.assert_close(got.mean, want / counts, rtol=0, atol=1e-5)


def test_counts_exclude_prompt_and_padding(tiny):
    model, tok = tiny
    batch = batch_of(tok)
    chosen, rejected = concatenated_forward(model, batch)
    for i, pair in enumerate(PAIRS):
        assert chosen.count[i] == len(encode_response(tok, pair.chosen))
        assert rejected.count[i] == len(encode_response(tok, pair.rejected))
    # Other prompt labels or padding ids must not change anything.
    longer = {k: torch.nn.functional.pad(v, (0, 7), value={"input_ids": 5, "attention_mask": 0}.get(k.split("_", 1)[1],
                                                                                                   IGNORE_INDEX))
              for k, v in batch.items()}
    chosen2, _ = concatenated_forward(model, longer)
    torch.testing.assert_close(chosen2.sum, chosen.sum, rtol=0, atol=1e-4)


def test_sequence_logps_from_logits_matches_forward_logps(tiny):
    model, tok = tiny
    ids, mask, labels = side(batch_of(tok), "chosen")
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        torch.testing.assert_close(sequence_logps(logits, labels, chunk_tokens=3).sum,
                                   forward_logps(model, ids, mask, labels).sum, rtol=0, atol=1e-4)


def test_models_without_plain_head_use_full_logits_path(tiny, monkeypatch):
    model, tok = tiny
    ids, mask, labels = side(batch_of(tok), "chosen")
    with torch.no_grad():
        plain = forward_logps(model, ids, mask, labels)
        monkeypatch.setattr(logprobs, "PLAIN_HEAD_MODELS", frozenset())
        full = forward_logps(model, ids, mask, labels, chunk_tokens=4)
    torch.testing.assert_close(full.sum, plain.sum, rtol=0, atol=1e-4)


def test_bf16_autocast_matches_per_token_loop(tiny):
    model, tok = tiny
    ids, mask, labels = side(batch_of(tok), "chosen")
    with torch.no_grad():
        fp32 = naive_logps(model, ids, mask, labels)
        with autocast("cpu", "bf16"):
            got = forward_logps(model, ids, mask, labels, chunk_tokens=6)
            naive_bf16 = naive_logps(model, ids, mask, labels)
    assert got.sum.dtype == torch.float32
    torch.testing.assert_close(got.sum, naive_bf16, rtol=1e-4, atol=1e-3)  # same bf16 matmuls, fp32 softmax
    torch.testing.assert_close(got.sum, fp32, rtol=5e-3, atol=0.1)  # bf16 rounding of the activations only


@pytest.mark.parametrize("logits_path", [False, True])
def test_gradients_equal_per_token_loop(tiny, monkeypatch, logits_path):
    model, tok = tiny
    if logits_path:
        monkeypatch.setattr(logprobs, "PLAIN_HEAD_MODELS", frozenset())
    ids, mask, labels = side(batch_of(tok), "chosen")
    weights = [model.lm_head.weight, model.model.layers[0].self_attn.q_proj.weight]
    want = torch.autograd.grad(naive_logps(model, ids, mask, labels).sum(), weights)
    got = torch.autograd.grad(forward_logps(model, ids, mask, labels, chunk_tokens=7).sum.sum(), weights)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_no_full_vocab_tensor_is_kept_for_backward(tiny):
    """Autograd may keep at most one chunk of vocabulary-wide activations (the rest is recomputed)."""
    model, tok = tiny
    ids, mask, labels = side(batch_of(tok), "chosen")
    vocab, chunk, kept = model.config.vocab_size, 8, []

    def pack(t):
        if t.dim() and t.shape[-1] == vocab:
            kept.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward_logps(model, ids, mask, labels, chunk_tokens=chunk)
    out.sum.sum().backward()
    assert (labels != IGNORE_INDEX).sum() > 4 * chunk  # several chunks were needed
    assert sum(kept) <= chunk * vocab


@pytest.mark.parametrize("reentrant", [False, True])
def test_lora_and_gradient_checkpointing(tiny, reentrant):
    model, tok = tiny
    inject_lora(model, LoRAConfig(r=4, targets=("q_proj", "v_proj")))
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.weight.normal_(0, 0.1)
    model.train()
    ids, mask, labels = side(batch_of(tok), "chosen")
    params = [p for p in model.parameters() if p.requires_grad]

    def grads():  # .backward(): reentrant checkpointing does not support torch.autograd.grad
        for p in params:
            p.grad = None
        forward_logps(model, ids, mask, labels).sum.sum().backward()
        return [p.grad.clone() for p in params]

    plain = grads()
    # transformers 5 name of gradient_checkpointing_enable
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
    assert model.model.layers[0].gradient_checkpointing
    for a, b in zip(plain, grads()):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_concatenated_forward_equals_separate_forwards(tiny):
    model, tok = tiny
    batch = batch_of(tok)
    with torch.no_grad():
        chosen, rejected = concatenated_forward(model, batch)
        for got, s in ((chosen, "chosen"), (rejected, "rejected")):
            want = forward_logps(model, *side(batch, s))
            torch.testing.assert_close(got.sum, want.sum, rtol=0, atol=1e-4)
            assert torch.equal(got.count, want.count)


@pytest.mark.real_model
def test_real_model_equals_per_token_loop(smollm2):
    model, tok = smollm2
    pair = PreferencePair(prompt="Is the canteen's new fridge allowed under EU energy labelling? " * 2,
                          chosen="Only if it carries the energy label and meets the ecodesign minimum. " * 12,
                          rejected="Buy the cheapest one.")
    ids, mask, labels = side(batch_of(tok, [pair, PAIRS[0]], max_length=512), "chosen")
    assert (labels != IGNORE_INDEX).sum() > 2 * 64  # three chunks or more
    with torch.no_grad():
        got = forward_logps(model, ids, mask, labels, chunk_tokens=64)
        want = naive_logps(model, ids, mask, labels)
    torch.testing.assert_close(got.mean, want / got.count, rtol=0, atol=1e-4)  # fp32 over a 49k vocabulary: kernel rounding ~2e-5


def test_lora_on_an_untied_output_head(tiny):
    model, tok = tiny
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())  # untie from the embeddings
    model.config.tie_word_embeddings = False
    inject_lora(model, LoRAConfig(r=4, targets=("q_proj", "lm_head")))
    head = lora_layers(model)["lm_head"]
    torch.nn.init.normal_(head.lora_B.weight, 0, 0.1)
    ids, mask, labels = side(batch_of(tok), "chosen")
    got = forward_logps(model, ids, mask, labels)  # the default chunk reads the head's out_features
    torch.testing.assert_close(got.sum, naive_logps(model, ids, mask, labels), rtol=0, atol=1e-3)
    got.sum.sum().backward()
    assert head.lora_A.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_frozen_head_path_equals_checkpointed_chunks(tiny, precision):
    """A frozen nn.Linear head (LoRA training) takes FrozenHeadLogps: same log-probs and body gradients as the
    checkpointed chunks a trained head takes, and nothing vocabulary-wide is kept for backward."""
    model, tok = tiny
    ids, mask, labels = side(batch_of(tok), "chosen")
    model.requires_grad_(False)
    body_weight = model.model.layers[0].self_attn.q_proj.weight.requires_grad_(True)
    weights = torch.tensor([1.0, -2.0, 0.5])

    def run(head_frozen: bool):
        model.lm_head.weight.requires_grad_(not head_frozen)
        kept = []

        def pack(t):
            if t.dim() and t.shape[-1] == model.config.vocab_size and t is not model.lm_head.weight:
                kept.append(t.shape)
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast("cpu", precision):
            out = forward_logps(model, ids, mask, labels, chunk_tokens=7)
        grad, = torch.autograd.grad((out.sum * weights).sum() + out.mean.sum(), body_weight)
        return out, grad, kept

    fused, fused_grad, fused_kept = run(head_frozen=True)
    chunked, chunked_grad, _ = run(head_frozen=False)
    assert not fused_kept
    tolerance = {"fp32": 1e-5, "bf16": 2e-3}[precision]
    torch.testing.assert_close(fused.sum, chunked.sum, rtol=tolerance, atol=tolerance * fused.count.max().item())
    torch.testing.assert_close(fused_grad, chunked_grad, rtol=10 * tolerance, atol=10 * tolerance * chunked_grad.abs().max().item())
    if precision == "fp32":
        with torch.no_grad():
            torch.testing.assert_close(fused.sum, naive_logps(model, ids, mask, labels), rtol=0, atol=1e-3)
