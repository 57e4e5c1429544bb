"""The cue audit: one-rule classifiers, the pairwise bag-of-words regression, the table and the command line."""
import json

import pytest

from dpo.data import DataError, write_jsonl
from exposure.audit import FUNCTION_WORDS, audit, features, format_table, main, rule_score, sentences, words_of

count = lambda text: len(text.split())  # noqa: E731  (a stand-in token counter)


def pair(chosen: str, rejected: str, **meta) -> dict:
    return {"prompt": "Which one?", "chosen": chosen, "rejected": rejected, "meta": meta}


def test_features_of_an_answer():
    text = "Buy the class B model. It costs €949, about €108 a year!\nThe Energy Labelling Regulation (EU) 2017/1369 applies"
    f = features(text, count)
    assert f["sents"] == 3 and f["cites"] == 1.0 and f["nums"] == 4 and f["words"] == len(text.split())
    assert features("Article 22 gives you a right.", count)["cites"] == 1.0
    assert features("EU rules give you a right.", count)["cites"] == 0.0
    assert sentences("One. Two? Three") == 3
    assert words_of("Don’t stop, it's 2027") == ["don't", "stop", "it's", "2027"]
    assert {"must", "not", "you", "the", "don't"} <= set(FUNCTION_WORDS) and "criteria" not in FUNCTION_WORDS


def test_rule_score_counts_ties_as_half():
    assert rule_score([3, 5, 2], [1, 1, 1]) == 1.0
    assert rule_score([1, 1], [1, 1]) == 0.5
    assert rule_score([1, 2], [2, 1]) == 0.5


def test_a_planted_cue_is_found_and_mirrored_answers_show_none():
    """Chosen always longer and citing, with 'must' only on the chosen side: every detector fires. Answers that are
    the same words in another order (the v2 design): none does."""
    cued = [pair(f"You must pick option {i}. The Directive 2019/1158 says so. It lasts {i} years.", f"Pick option {i + 1}.",
                 split="test", domain="employment") for i in range(40)]
    result = audit(cued, cued[:20], count_tokens=count)
    g = result["groups"]["test"]
    assert g["words"] == g["tokens"] == g["sents"] == g["cites"] == g["nums"] == 1.0
    assert result["directions"]["test"]["words"] == "more" and g["bow_all"] == 1.0 and g["bow_func"] == 1.0
    assert g["chosen_cites"] == 1.0 and g["rejected_cites"] == 0.0 and g["ratio_max"] > 1.15
    assert result["top_words"]["chosen"][0][0] in {"must", "directive", "says", "so", "the", "lasts", "it", "you", "years"}
    mirrored = [pair(f"Take the train {i}, not the plane {i}.", f"Take the plane {i}, not the train {i}.", split="test",
                     good_position=1 + i % 2) for i in range(40)]
    g = audit(mirrored, mirrored, count_tokens=count)["groups"]["test"]
    assert g["words"] == g["tokens"] == g["sents"] == g["cites"] == g["nums"] == 0.5
    assert g["pos"] == 0.5 and g["bow_func"] == 0.5 and g["ratio_max"] == 1.0


def test_groups_split_domain_and_kind_and_cross_validation_without_train():
    rows = [pair("a b c", "a b", split="test", domain=d, kind=k) for d in ("employment", "sustainability")
            for k in ("standard", "proportionality") for _ in range(5)]
    result = audit(rows, count_tokens=count)
    assert set(result["groups"]) == {"all", "test", "test/employment", "test/sustainability", "test/standard",
                                     "test/proportionality"}
    assert result["groups"]["test/employment"]["n"] == 10 and result["regression"] == "5-fold cross-validation"
    assert result["groups"]["all"]["pos"] is None
    table = format_table(result)
    assert "test/proportionality" in table and "n/a" in table and "bow-fn" in table
    with pytest.raises(ValueError, match="no pairs"):
        audit([], count_tokens=count)


def test_command_line_prints_the_table_and_writes_json(tmp_path, capsys, monkeypatch):
    import exposure.audit as audit_module
    monkeypatch.setattr(audit_module, "token_counter", lambda: count)
    rows = [pair(f"Choose {i} because it lasts.", f"Choose {i + 1}.", split="test") for i in range(12)]
    write_jsonl(tmp_path / "test.jsonl", rows)
    write_jsonl(tmp_path / "train.jsonl", rows)
    main([str(tmp_path / "test.jsonl"), "--train", str(tmp_path / "train.jsonl"), "--json", str(tmp_path / "a.json")])
    out = capsys.readouterr().out
    assert "cue audit: 12 pairs" in out and "trained on --train (12 pairs)" in out
    assert json.loads((tmp_path / "a.json").read_text())["groups"]["test"]["words"] == 1.0


def test_a_bad_line_fails_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(pair("x", "y")) + "\n" + json.dumps({"prompt": "p", "chosen": "x"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: missing field 'rejected'"):
        main([str(bad)])
