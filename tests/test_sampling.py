import torch

from dpo.data import encode_prompt
from dpo.models import model_identity
from dpo.sampling import SamplingConfig, decode_batch, generate, nucleus, row_generator

PROMPTS = ["Hi", "Tell me a story about the sea and the wind, please.", "What is 2+2?"]


def varied(model):
    """Redraw the tiny model's matrices with std 0.3, so that its greedy output is not one token repeated."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def hf_greedy(model, tok, prompt, max_new_tokens, stop_id):
    ids = torch.tensor([encode_prompt(tok, prompt)])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                         do_sample=False, eos_token_id=stop_id, pad_token_id=tok.pad_token_id)
    new = out[0, ids.shape[1]:].tolist()
    return new[:new.index(stop_id)] if stop_id in new else new


def test_greedy_matches_hf_generate_with_left_padding(tiny):
    model, tok = tiny
    model = varied(model)
    unstopped = hf_greedy(model, tok, PROMPTS[1], 24, stop_id=tok.eos_token_id)
    assert len(set(unstopped)) > 3, "the test model's greedy output is too uniform to test anything"
    stop = unstopped[6]  # a token greedy emits: rows stop at different steps, so compaction is exercised
    expected = [hf_greedy(model, tok, p, 24, stop) for p in PROMPTS]
    assert len({len(e) for e in expected}) > 1
    cfg = SamplingConfig(max_new_tokens=24)
    got = decode_batch(model, [encode_prompt(tok, p) for p in PROMPTS], cfg, [row_generator(0, i) for i in range(3)],
                       pad_id=tok.pad_token_id, stop_id=stop)
    assert got == expected


def test_generate_greedy_texts_match_hf(tiny):
    model, tok = tiny
    model = varied(model)
    texts = generate(model, tok, PROMPTS, max_new_tokens=16, precision="fp32", batch_size=2)
    expected = [tok.decode(hf_greedy(model, tok, p, 16, tok.eos_token_id), skip_special_tokens=True) for p in PROMPTS]
    assert texts == expected


def test_sampling_is_seeded_and_independent_of_batching(tiny):
    model, tok = tiny
    kw = dict(max_new_tokens=12, temperature=1.0, top_p=0.9, precision="fp32")
    a = generate(model, tok, PROMPTS, seed=1, batch_size=3, **kw)
    assert a == generate(model, tok, PROMPTS, seed=1, batch_size=3, **kw)
    assert a == generate(model, tok, PROMPTS, seed=1, batch_size=1, **kw)
    assert a != generate(model, tok, PROMPTS, seed=2, batch_size=3, **kw)


def test_bf16_uses_a_copy_and_leaves_the_model_untouched(tiny):
    model, tok = tiny
    before = model_identity(model)
    texts = generate(model, tok, PROMPTS, max_new_tokens=4, precision="bf16")
    assert len(texts) == 3 and next(model.parameters()).dtype == torch.float32
    assert model_identity(model) == before


def test_top_p_keeps_the_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]])
    for top_p, size in ((0.7, 2), (0.5, 1), (0.9, 3), (1.0, 4)):
        weights, ids = nucleus(probs, top_p)
        kept = [sorted(i for w, i in zip(wr.tolist(), ir.tolist()) if w > 0) for wr, ir in zip(weights, ids)]
        assert kept == [list(range(size)), list(range(4 - size, 4))]


def test_nucleus_falls_back_to_a_full_sort_for_flat_distributions():
    probs = torch.full((1, 2000), 1 / 2000)  # the top NUCLEUS_K tokens hold only a quarter of the mass
    weights, _ = nucleus(probs, 0.9)
    assert (weights > 0).sum() == 1800
