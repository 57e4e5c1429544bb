import json

import pytest
import torch

from dpo.data import (IGNORE_INDEX, DataError, PreferencePair, Truncation, batch_order, collate, cut_prompt,
                      encode_prompt, encode_response, end_of_turn_id, read_pairs, tokenize_pair, tokenize_pairs,
                      write_pairs)

GOOD = {"prompt": "Which fridge should I buy?", "chosen": "The A-class one.", "rejected": "The cheapest one."}


def write_lines(path, lines):
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("bad, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"prompt": "p", "chosen": "c"}), "missing field 'rejected'"),
    (json.dumps({"prompt": 3, "chosen": "c", "rejected": "r"}), "field 'prompt' must be a string or a list"),
    (json.dumps({"prompt": "p", "chosen": ["c"], "rejected": "r"}), "field 'chosen' must be a string"),
    (json.dumps({"prompt": "p", "chosen": "  ", "rejected": "r"}), "field 'chosen' is an empty response"),
    (json.dumps({"prompt": "p", "chosen": "same", "rejected": "same "}), "'chosen' is identical to 'rejected'"),
    (json.dumps({"prompt": [{"role": "user"}], "chosen": "c", "rejected": "r"}), "message 0 must be an object"),
    (json.dumps({"prompt": "p", "chosen": "c", "rejected": "r", "meta": []}), "field 'meta' must be a dict"),
    (json.dumps(["p", "c", "r"]), "expected a JSON object"),
])
def test_bad_line_names_file_line_and_problem(tmp_path, bad, message):
    path = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD) + "\n", "\n", bad + "\n"])
    with pytest.raises(DataError) as err:
        read_pairs(path)
    assert f"{path}:3: " in str(err.value) and message in str(err.value)
    pairs, errors = read_pairs(path, skip_invalid=True)
    assert len(pairs) == 1 and len(errors) == 1 and f"{path}:3" in errors[0]


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_pairs(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="no valid preference pairs"):
        read_pairs(write_lines(tmp_path / "empty.jsonl", ["\n"]))


def test_write_then_read_round_trip(tmp_path):
    pairs = [PreferencePair(prompt=[{"role": "user", "content": "hi"}], chosen="a", rejected="b", id="x",
                            system="Be kind.", meta={"domain": "products"})]
    write_pairs(tmp_path / "p.jsonl", pairs)
    assert read_pairs(tmp_path / "p.jsonl")[0] == pairs


def test_response_has_exactly_one_end_of_turn_and_prompt_one_bos(tiny):
    _, tok = tiny
    eot = end_of_turn_id(tok)
    for text in ("Buy the A-class.", "Buy the A-class.<|im_end|>", "Buy the A-class.<|im_end|><|im_end|>"):
        ids = encode_response(tok, text)
        assert ids[-1] == eot and ids.count(eot) == 1
        assert tok.bos_token_id not in ids
    ex = tokenize_pair(tok, PreferencePair(**GOOD), Truncation(512, 256))
    ids = ex["chosen_input_ids"]
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id
    assert tok.decode(ids).endswith("<|im_start|>assistant\nThe A-class one.<|im_end|>")


@pytest.mark.real_model
def test_real_tokenizer_no_doubled_special_tokens(smollm2):
    _, tok = smollm2
    ex = tokenize_pair(tok, PreferencePair(**GOOD, system="You advise on purchases."), Truncation(512, 256))
    ids = ex["chosen_input_ids"]
    assert ids[:2] != [tok.bos_token_id, tok.bos_token_id]
    assert ids[-1] == tok.eos_token_id and ids[-2] != tok.eos_token_id
    assert tok.decode(ids).count("<|im_start|>system") == 1  # our system prompt replaces the default one


def test_labels_mask_the_prompt_only(tiny):
    _, tok = tiny
    pair = PreferencePair(**GOOD)
    ex = tokenize_pair(tok, pair, Truncation(512, 256))
    n_prompt = len(encode_prompt(tok, pair.prompt))
    assert ex["chosen_labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert ex["chosen_labels"][n_prompt:] == ex["chosen_input_ids"][n_prompt:]


def test_truncation_keeps_prompt_end_and_response_start_and_counts(tiny):
    _, tok = tiny
    long_prompt = "filler " * 60 + "QUESTION?"
    pair = PreferencePair(prompt=long_prompt, chosen="START " + "x" * 300, rejected="short no")
    trunc = Truncation(max_length=120, max_prompt_length=50)
    ex = tokenize_pair(tok, pair, trunc)
    assert len(ex["chosen_input_ids"]) == 120 and ex["truncated"]
    text = tok.decode(ex["chosen_input_ids"])
    assert "QUESTION?" in text and "START" in text and not text.startswith("<|im_start|>user")
    tp = tokenize_pairs(tok, [pair, PreferencePair(**GOOD)], trunc)
    assert tp.truncated == 1 and tp.dropped == 0 and len(tp.examples) == 2


def test_chosen_and_rejected_keep_the_same_prompt_when_one_response_overflows(tiny):
    _, tok = tiny
    trunc = Truncation(max_length=200, max_prompt_length=100)
    pair = PreferencePair(prompt="Which of the two suppliers meets the due-diligence rules for our shop? " * 2,
                          chosen="The audited one.", rejected="The cheapest, since the invoice is what counts. " * 2)
    prompt = encode_prompt(tok, pair.prompt)
    chosen, rejected = (len(encode_response(tok, r)) for r in (pair.chosen, pair.rejected))
    assert len(prompt) > 100 and len(prompt) + chosen <= 200 < len(prompt) + rejected  # only rejected overflows
    ex = tokenize_pair(tok, pair, trunc)
    seen = {s: [t for t, label in zip(ex[f"{s}_input_ids"], ex[f"{s}_labels"]) if label == IGNORE_INDEX]
            for s in ("chosen", "rejected")}
    assert seen["chosen"] == seen["rejected"] == prompt[-100:]  # one cut, decided on the longer response
    assert [len(ex[f"{s}_input_ids"]) for s in ("chosen", "rejected")] == [100 + chosen, 100 + rejected]
    assert ex["truncated"]
    assert tokenize_pairs(tok, [pair, PreferencePair(**GOOD)], trunc).truncated == 1


def test_cut_prompt_cuts_only_what_the_longest_response_needs():
    trunc = Truncation(max_length=10, max_prompt_length=4)
    prompt = list(range(6))
    assert cut_prompt(prompt, 4, trunc) == prompt  # 6 + 4 fits
    assert cut_prompt(prompt, 5, trunc) == [2, 3, 4, 5]  # keeps the end
    assert cut_prompt([0, 1, 2], 50, trunc) == [0, 1, 2]  # already within max_prompt_length


def test_pair_dropped_when_truncation_makes_chosen_equal_rejected(tiny):
    _, tok = tiny
    same_start = "Both answers start the same way for a long while. " * 4
    pair = PreferencePair(prompt="q", chosen=same_start + "Then A.", rejected=same_start + "Then B.")
    assert tokenize_pairs(tok, [pair], Truncation(max_length=1024, max_prompt_length=64)).dropped == 0
    tp = tokenize_pairs(tok, [pair, PreferencePair(**GOOD)], Truncation(max_length=100, max_prompt_length=64))
    assert tp.dropped == 1 and len(tp.examples) == 1 and tp.ids == [PreferencePair(**GOOD).id]


def test_collate_pads_to_longest_in_batch_not_max_length(tiny):
    _, tok = tiny
    trunc = Truncation(1024, 256)
    exs = [tokenize_pair(tok, PreferencePair(**GOOD), trunc),
           tokenize_pair(tok, PreferencePair(prompt="q", chosen="a much longer chosen answer", rejected="b"), trunc)]
    batch = collate(exs, tok.pad_token_id)
    longest = max(len(e[f"{s}_input_ids"]) for e in exs for s in ("chosen", "rejected"))
    assert batch["chosen_input_ids"].shape == batch["rejected_input_ids"].shape == (2, longest) and longest < 1024
    assert torch.equal(batch["chosen_attention_mask"].sum(1), torch.tensor([len(e["chosen_input_ids"]) for e in exs]))
    assert (batch["rejected_labels"][batch["rejected_attention_mask"] == 0] == IGNORE_INDEX).all()


def test_batch_order_deterministic_complete_and_grouped():
    lengths = [(i * 37) % 101 for i in range(400)]
    a = batch_order(lengths, 8, seed=1, epoch=0)
    assert a == batch_order(lengths, 8, seed=1, epoch=0) and a != batch_order(lengths, 8, seed=1, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(400))
    grouped = batch_order(lengths, 8, seed=1, epoch=0, group_by_length=True)
    assert sorted(i for b in grouped for i in b) == list(range(400))
    padding = lambda batches: sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)  # noqa: E731
    assert padding(grouped) < padding(a) / 3


def test_max_response_length_caps_every_response_and_keeps_one_prompt(tiny):
    """An equal token budget per response: both sides keep at most max_response_length tokens (their start),
    and the prompt cut is decided on the capped lengths, so short prompts are never cut for a long response."""
    from dpo.data import IGNORE_INDEX, PreferencePair, Truncation, tokenize_pair
    _, tok = tiny
    pair = PreferencePair(prompt="Which fridge should I buy for a small flat?", chosen="a" * 300, rejected="b" * 40)
    plain = tokenize_pair(tok, pair, Truncation(512, 256))
    capped = tokenize_pair(tok, pair, Truncation(512, 256, max_response_length=64))
    response = lambda ex, side: [t for t in ex[f"{side}_labels"] if t != IGNORE_INDEX]  # noqa: E731
    assert len(response(capped, "chosen")) == 64 and response(capped, "chosen") == response(plain, "chosen")[:64]
    assert response(capped, "rejected") == response(plain, "rejected")  # shorter than the cap: untouched
    prompt = lambda ex, side: ex[f"{side}_input_ids"][: ex[f"{side}_labels"].count(IGNORE_INDEX)]  # noqa: E731
    assert prompt(capped, "chosen") == prompt(capped, "rejected") == prompt(plain, "chosen")
    assert capped["truncated"] and not plain["truncated"]
