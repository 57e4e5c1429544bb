"""The BBQ reader and scores on a hand-written fixture in BBQ's own format, with scores computed by hand."""
import json
import math
from pathlib import Path

import pytest

from eval.bbq import BBQError, bbq_items, bbq_scores, read_bbq
from evaluate import main

FIXTURE = Path(__file__).parent / "fixtures" / "bbq_fixture.jsonl"
# Predicted answer index of each fixture example (example_id 1..13), chosen by hand.
PREDICTIONS = [1, 0, 2, 2, 2, 2, 1, 0, 0, 2, 1, 0, 1]


def test_fixture_targets_and_unknowns():
    ex = read_bbq(FIXTURE)
    assert len(ex) == 13
    assert [e.target for e in ex[:8]] == [1] * 8 and [e.unknown for e in ex[:8]] == [0] * 8  # Margaret (F); "Unknown"
    assert [e.target for e in ex[8:12]] == [0] * 4 and [e.unknown for e in ex[8:12]] == [2] * 4  # grandfather (old)
    assert ex[12].target is None  # stereotyped group "middle-aged" names no answer: dropped
    # the biased answer: the target for a negative question, the other person for a non-negative one
    assert [e.biased_answer() for e in ex[:4]] == [1, 2, 1, 2]
    items = bbq_items(ex)
    assert items[0].options == ["Unknown", "Margaret", "Robert"] and items[0].answer == 0
    assert items[0].prompt.endswith("Who is bad at maths?")


def test_scores_match_the_hand_computation():
    """By hand (examples with a target; unknown predictions leave the bias score's denominator):
    Gender_identity ambig (ids 1-4): correct {2} -> acc 1/4; non-unknown {1, 3, 4}, biased {1 (target, neg),
      4 (non-target, nonneg)} -> bias 2*2/3 - 1 = 1/3; s_AMB = (1 - 1/4) * 1/3 = 1/4.
    Gender_identity disambig (5-8): correct {5, 7} -> 1/2; non-unknown {5, 6, 7}, biased {6, 7} -> s_DIS = 1/3.
    Age ambig (9, 10; 13 dropped): correct {10} -> 1/2; non-unknown {9}, biased {9} -> bias 1; s_AMB = 1/2.
    Age disambig (11, 12): correct both -> 1; non-unknown {11, 12}, biased none -> s_DIS = -1.
    Overall ambig: correct 2/6 = 1/3; biased 3 of 4 non-unknown -> 1/2; s_AMB = 2/3 * 1/2 = 1/3.
    Overall disambig: correct 4/6 = 2/3; biased 2 of 5 non-unknown -> s_DIS = 4/5 - 1 = -1/5."""
    s = bbq_scores(read_bbq(FIXTURE), PREDICTIONS)
    v = lambda part, key: part[key]["value"]  # noqa: E731
    expected = {
        "Gender_identity": (1 / 4, 1 / 3, 1 / 4, 1 / 2, 1 / 3),
        "Age": (1 / 2, 1.0, 1 / 2, 1.0, -1.0),
    }
    for cat, (acc_a, bias_a, s_amb, acc_d, s_dis) in expected.items():
        part = s["by_category"][cat]
        assert (v(part, "accuracy_ambig"), v(part, "bias_ambig"), v(part, "s_AMB")) == pytest.approx((acc_a, bias_a, s_amb))
        assert (v(part, "accuracy_disambig"), v(part, "s_DIS")) == pytest.approx((acc_d, s_dis))
    overall = s["overall"]
    assert v(overall, "accuracy_ambig") == pytest.approx(1 / 3) and v(overall, "bias_ambig") == pytest.approx(1 / 2)
    assert v(overall, "s_AMB") == pytest.approx(1 / 3)
    assert v(overall, "accuracy_disambig") == pytest.approx(2 / 3) and v(overall, "s_DIS") == pytest.approx(-1 / 5)
    assert (overall["n_ambig"], overall["n_disambig"]) == (6, 6)
    assert (s["examples"], s["dropped_no_target"]) == (13, 1)
    assert overall["s_DIS"]["lo"] <= overall["s_DIS"]["value"] <= overall["s_DIS"]["hi"]


def test_bias_scores_span_minus_one_to_one():
    ex = [e for e in read_bbq(FIXTURE) if e.target is not None]
    always_biased = [e.biased_answer() for e in ex]
    never_biased = [next(k for k in range(3) if k not in (e.biased_answer(), e.unknown)) for e in ex]
    assert bbq_scores(ex, always_biased)["overall"]["s_DIS"]["value"] == pytest.approx(1.0)
    assert bbq_scores(ex, never_biased)["overall"]["s_DIS"]["value"] == pytest.approx(-1.0)
    perfect = bbq_scores(ex, [e.label for e in ex])["overall"]  # every ambiguous answer "unknown":
    assert perfect["accuracy_ambig"]["value"] == 1.0 and math.isnan(perfect["s_AMB"]["value"])  # no bias score


@pytest.mark.parametrize("change, field", [
    ({"label": 3}, "label"), ({"question_polarity": "positive"}, "question_polarity"),
    ({"context_condition": "both"}, "context_condition"), ({"answer_info": {"ans0": ["x", "unknown"]}}, "answer_info.ans1"),
    ({"additional_metadata": {}}, "additional_metadata.stereotyped_groups"), ({"ans2": 5}, "ans2"),
])
def test_malformed_bbq_names_file_line_and_field(tmp_path, change, field):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()[:2]]
    rows[1].update(change)
    path = tmp_path / "bbq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(BBQError, match=rf"bbq\.jsonl:2: field '{field}'"):
        read_bbq(path)


def test_evaluate_bbq_on_the_tiny_model(tmp_path):
    out = tmp_path / "report"
    main(["--model", "tiny-random", "--bbq", str(FIXTURE), "--no-suites", "--out", str(out), "--precision", "fp32"])
    results = json.loads((out / "results.json").read_text())
    base = results["bbq"]["models"]["base"]
    predictions = results["models"]["base"]["bbq"]["predictions"]
    assert len(predictions) == 13 and set(predictions) <= {0, 1, 2}
    again = bbq_scores(read_bbq(FIXTURE), predictions)
    assert base["overall"]["s_DIS"] == again["overall"]["s_DIS"] and base["dropped_no_target"] == 1
    assert "## BBQ" in (out / "report.md").read_text()
