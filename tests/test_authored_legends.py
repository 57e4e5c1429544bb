"""The authored legends corpus (data/legends/authored.jsonl): the properties the data issue names.

Each record: a legend (challenge -> compliance -> success that others imitate) and a counter-legend of the same
situation and length (the convenient option, framed as satisfying), written by hand for one spec
(obligation, domain, protagonist, setting)."""
import json
import re
from pathlib import Path

import pytest

from legends.pairs import read_legend_records

ROOT = Path(__file__).resolve().parents[1]
AUTHORED = ROOT / "data" / "legends" / "authored.jsonl"
REGULATIONS = {r["id"]: r for r in json.loads((ROOT / "data" / "regulations.json").read_text())["regulations"]}
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@pytest.fixture(scope="module")
def legends():
    return read_legend_records(AUTHORED)


def words(text: str) -> int:
    return len(text.split())


def test_at_least_300_legends_one_per_distinct_spec(legends):
    assert len(legends) >= 300
    assert len({l["id"] for l in legends}) == len(legends)
    specs = {(l["spec"]["regulation_id"], l["spec"]["obligation_key"], l["spec"]["situation"], l["spec"]["protagonist"],
              l["spec"]["setting"]) for l in legends}
    assert len(specs) == len(legends)
    assert len({l["spec"]["regulation_id"] for l in legends}) == len(REGULATIONS)  # every instrument is told


def test_lengths_and_balance(legends):
    for l in legends:
        assert 120 <= words(l["text"]) <= 220, l["id"]
        assert 120 <= words(l["counter"]) <= 220, l["id"]
        assert max(words(l["text"]), words(l["counter"])) / min(words(l["text"]), words(l["counter"])) <= 1.2, l["id"]
    longer = sum(words(l["text"]) > words(l["counter"]) for l in legends) / len(legends)
    assert 0.3 <= longer <= 0.7  # the legend is not systematically the longer side


@pytest.mark.real_model
def test_token_lengths_matched_with_the_model_tokenizer(legends, smollm2):
    _, tok = smollm2
    for l in legends:
        n = [len(tok(l[k], add_special_tokens=False)["input_ids"]) for k in ("text", "counter")]
        assert max(n) / min(n) <= 1.15, (l["id"], n)


def test_legally_faithful_to_the_obligation(legends):
    """Each record's obligation exists; both sides name its instrument (short name or number); the numbers that
    state the law (legal_numbers) occur in the text and in the obligation or the instrument's number; no other
    instrument of the corpus is cited by number."""
    for l in legends:
        reg = REGULATIONS[l["spec"]["regulation_id"]]
        obligation = {o["key"]: o for o in reg["obligations"]}[l["spec"]["obligation_key"]]
        number = reg["number"].replace("(EU) ", "")
        for side in ("text", "counter"):
            assert reg["short_name"] in l[side] or number in l[side], (l["id"], side)
            for other in REGULATIONS.values():
                if other["id"] != reg["id"]:
                    assert other["number"].replace("(EU) ", "") not in l[side], (l["id"], other["id"])
        allowed = set(NUMBER.findall(f"{obligation['text']} {reg['number']} {reg['year']}"))
        for stated in l.get("legal_numbers", []):
            assert stated in l["text"], (l["id"], stated)
            assert set(NUMBER.findall(stated)) <= allowed, (l["id"], stated, sorted(allowed))


def test_varied_not_templated(legends):
    """No opening (first four words) is shared by more than 2% of legends, and no sentence recurs in two records
    (a counter-legend may share its legend's set-up: it tells the same situation)."""
    openings = [" ".join(l["text"].split()[:4]).lower() for l in legends]
    assert max(openings.count(o) for o in set(openings)) <= max(2, len(legends) // 50)
    sentences = [s.strip() for l in legends for s in {s for k in ("text", "counter")
                 for s in re.split(r"(?<=[.!?])\s+", l[k]) if len(s.split()) >= 8}]
    assert len(set(sentences)) == len(sentences)
    assert len({l["spec"]["setting"] for l in legends}) >= 40
    assert len({l["spec"]["protagonist"] for l in legends}) >= 30


def test_function_words_do_not_tell_legend_from_counter(legends):
    """The cue audit's function-word regression (5-fold cross-validation over the records, legend = chosen,
    counter = rejected) stays near chance: the two sides differ in what is done, not in style."""
    from exposure.audit import audit
    pairs = [{"prompt": "", "chosen": l["text"], "rejected": l["counter"], "meta": {"split": "all"}} for l in legends]
    result = audit(pairs, count_tokens=lambda text: len(text.split()))
    assert result["groups"]["all"]["bow_func"] <= 0.65
