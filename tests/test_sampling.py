import pytest
import torch

from dpo.data import encode_prompt
from dpo.models import model_identity
from dpo.sampling import (CHECK_EVERY, PrefixCache, Request, SamplingConfig, decode_stream, generate, nucleus,
                          row_generator)

PROMPTS = ["Hi", "Tell me a story about the sea and the wind, please.", "What is 2+2?"]
# chats sharing their first turns (the shape of few-shot prompts), and a long prompt that arrives last
FEW_SHOT = [{"role": "user", "content": "Example question?"}, {"role": "assistant", "content": "Example answer."}]
CHATS = [FEW_SHOT + [{"role": "user", "content": q}] for q in ("Why?", "Tell me about boats.", "And rivers")]
OTHER_SHOT = [{"role": "user", "content": "Another example"}, {"role": "assistant", "content": "Another answer, longer."}]
LONG = "A much longer prompt that arrives at the end of the queue, when the others are well under way. " * 3


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


def shared_len(tok, chat):
    """Token count of the turns before the last one (a prefix of the chat's ids under ChatML)."""
    ids = tok.apply_chat_template(chat[:-1], tokenize=True)
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    assert encode_prompt(tok, chat)[:len(ids)] == ids
    return len(ids)


def stream(model, requests, cfg, slots, pad_id, stop_id, prefixes=None):
    queue = list(reversed(requests))
    return {d.request.key: d for d in decode_stream(model, lambda: queue.pop() if queue else None, cfg, slots=slots,
                                                    pad_id=pad_id, stop_id=stop_id, prefixes=prefixes)}


@pytest.mark.parametrize("slots", [2, 8])
def test_continuous_batching_greedy_matches_hf_generate_per_prompt(tiny, slots):
    """8 prompts through 2 rows: rows finish at different steps and are refilled (two shared prefixes, one
    evicted from a 1-entry prefix cache while rows still use it, a long prompt admitted late, the cache's
    columns moved when full); through 8 rows: all prefilled together, rows sharing a prefix in one batch.
    Every prompt gets HF's greedy tokens."""
    model, tok = tiny
    model = varied(model)
    unstopped = hf_greedy(model, tok, PROMPTS[1], 24, stop_id=tok.eos_token_id)
    assert len(set(unstopped)) > 3, "the test model's greedy output is too uniform to test anything"
    stop = unstopped[6]  # a token greedy emits: rows stop at different steps
    prompts = PROMPTS[:2] + CHATS[:2] + [OTHER_SHOT + CHATS[2][-1:], CHATS[2], OTHER_SHOT + CHATS[0][-1:], LONG]
    expected = [hf_greedy(model, tok, p, 24, stop) for p in prompts]
    assert len({len(e) for e in expected}) > 2
    requests = [Request(encode_prompt(tok, p), key=i, prefix=shared_len(tok, p) if isinstance(p, list) else 0)
                for i, p in enumerate(prompts)]
    for prefixes in (PrefixCache(size=1), PrefixCache()):
        got = stream(model, requests, SamplingConfig(max_new_tokens=24), slots, tok.pad_token_id, stop, prefixes)
        assert [got[i].tokens for i in range(len(prompts))] == expected
        assert [got[i].reason for i in range(len(prompts))] == ["end" if len(e) < 24 else "length" for e in expected]
    assert len(prefixes.entries) == 2  # five chats, two cached prefixes


def test_generate_greedy_texts_match_hf(tiny):
    model, tok = tiny
    model = varied(model)
    texts = generate(model, tok, PROMPTS, max_new_tokens=16, precision="fp32", batch_size=2)
    expected = [tok.decode(hf_greedy(model, tok, p, 16, tok.eos_token_id), skip_special_tokens=True) for p in PROMPTS]
    assert texts == expected


def test_sampling_is_seeded_and_independent_of_batch_composition(tiny):
    model, tok = tiny
    kw = dict(max_new_tokens=12, temperature=1.0, top_p=0.9, precision="fp32")
    prompts = PROMPTS + CHATS
    a = generate(model, tok, prompts, seed=1, batch_size=3, **kw)
    assert a == generate(model, tok, prompts, seed=1, batch_size=3, **kw)
    assert a == generate(model, tok, prompts, seed=1, batch_size=1, **kw)
    assert a == generate(model, tok, prompts, seed=1, batch_size=len(prompts), **kw)
    assert a != generate(model, tok, prompts, seed=2, batch_size=3, **kw)
    # the same request, with its own generator, among other requests or alone, with its prefix cached or not
    cfg = SamplingConfig(max_new_tokens=12, temperature=1.0, top_p=0.9)
    chat = encode_prompt(tok, CHATS[1])
    alone = stream(model, [Request(chat, row_generator(5, 0), key="x")], cfg, 1, tok.pad_token_id, tok.eos_token_id)
    mixed = [Request(encode_prompt(tok, p), row_generator(9, i), key=i) for i, p in enumerate(PROMPTS)]
    mixed.insert(2, Request(chat, row_generator(5, 0), key="x", prefix=shared_len(tok, CHATS[1])))
    among = stream(model, mixed, cfg, 2, tok.pad_token_id, tok.eos_token_id)
    assert among["x"].tokens == alone["x"].tokens and len(alone["x"].tokens) > 0


def test_requests_made_while_consuming_are_decoded_like_the_others(tiny):
    """The source may be fed from the results (a counter-legend after its legend): a request added later gets
    the same tokens as when given up front, and per-request limits and stop callbacks end rows early."""
    model, tok = tiny
    model = varied(model)
    cfg = SamplingConfig(max_new_tokens=40)
    ids = [encode_prompt(tok, p) for p in PROMPTS]
    upfront = stream(model, [Request(x, key=i) for i, x in enumerate(ids)], cfg, 2, tok.pad_token_id, -1)
    asked = []

    def stop(new):
        asked.append(len(new))
        return len(new) >= 2 * CHECK_EVERY

    queue = [Request(ids[0], key=0, max_new_tokens=5)]
    seen = {}
    for done in decode_stream(model, lambda: queue.pop() if queue else None, cfg, slots=2, pad_id=tok.pad_token_id,
                              stop_id=-1):
        seen[done.request.key] = done
        if done.request.key == 0:
            queue += [Request(ids[1], key=1), Request(ids[2], key=2, stop=stop)]
    assert seen[0].tokens == upfront[0].tokens[:5] and seen[0].reason == "length"
    assert seen[1].tokens == upfront[1].tokens and seen[1].reason == "length"
    assert seen[2].tokens == upfront[2].tokens[:2 * CHECK_EVERY] and seen[2].reason == "stopped"
    assert asked == [CHECK_EVERY, 2 * CHECK_EVERY]


def test_min_new_tokens_rules_out_an_early_end_of_turn(tiny):
    model, tok = tiny
    model = varied(model)
    free = hf_greedy(model, tok, PROMPTS[1], 24, stop_id=tok.eos_token_id)
    stop = free[6]
    first = free.index(stop)
    cfg = SamplingConfig(max_new_tokens=24)
    ids = encode_prompt(tok, PROMPTS[1])
    got = stream(model, [Request(ids, key=0), Request(ids, key=1, min_new_tokens=first + 3)], cfg, 2,
                 tok.pad_token_id, stop)
    assert got[0].tokens == free[:first] and got[0].reason == "end"
    assert got[1].tokens[:first] == free[:first] and len(got[1].tokens) >= first + 3
    assert stop not in got[1].tokens[:first + 3]


def test_bf16_uses_a_copy_and_leaves_the_model_untouched(tiny):
    model, tok = tiny
    before = model_identity(model)
    texts = generate(model, tok, PROMPTS, max_new_tokens=4, precision="bf16")
    assert len(texts) == 3 and next(model.parameters()).dtype == torch.float32
    assert model_identity(model) == before


def test_bad_settings_are_refused(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="batch_size"):
        generate(model, tok, PROMPTS, max_new_tokens=4, batch_size=0)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, tok, PROMPTS, max_new_tokens=4, top_p=0.0)


def test_top_p_keeps_the_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]])
    for top_p, size in ((0.7, 2), (0.5, 1), (0.9, 3), (1.0, 4)):
        kept = [sorted(ids.tolist()) for _, ids in nucleus(probs, top_p)]
        assert kept == [list(range(size)), list(range(4 - size, 4))]


def test_nucleus_falls_back_to_a_full_sort_only_for_flat_rows():
    probs = torch.full((2, 2000), 1 / 2000)  # the top NUCLEUS_K tokens of row 0 hold only a quarter of the mass
    probs[1] = torch.softmax(torch.linspace(20, 0, 2000), -1)
    (flat, flat_ids), (peaked, peaked_ids) = nucleus(probs, 0.9)
    assert len(flat) == 1800 and len(set(flat_ids.tolist())) == 1800
    assert peaked_ids.tolist() == list(range(len(peaked))) and 0.9 <= peaked.sum() < 0.9 + peaked[-1]
