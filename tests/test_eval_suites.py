"""The hand-written suites (data/eval/*.jsonl) have the properties that make them measure arguments, not cues,
and share no text with the training pairs. The checks run on whatever suite files are there; the checker itself
is tested on the fixture suites (tests/fixtures/eval/) and on broken items."""
import json
from pathlib import Path

import pytest

from eval.suite_checks import MAX_OVERLAP, item_problems, option_texts, overlap, suite_problems
from eval.suites import EVAL_DIR, project_suites, read_suites

FIXTURES = Path(__file__).parent / "fixtures" / "eval"


def words(text: str) -> int:
    return len(text.split())


def eval_suites():
    try:
        return read_suites(project_suites())
    except FileNotFoundError:
        pytest.skip(f"no suite files in {EVAL_DIR} yet")


@pytest.mark.real_model
def test_project_suites_have_the_required_properties(count_tokens):
    problems = suite_problems(eval_suites(), count_tokens)
    assert not problems, "\n".join(problems)


@pytest.mark.real_model
def test_fixture_items_pass_and_short_counts_fail(count_tokens):
    items = read_suites(sorted(FIXTURES.glob("*.jsonl")))
    assert [p for i in items for p in item_problems(i, count_tokens)] == []
    problems = suite_problems(items, count_tokens)
    for expected in ("compliance: 4 items, need at least 120", "fact: 2 items, need at least 100",
                     "rigidity: 2 items, need at least 80", "bias: 4 items, need at least 120",
                     "rigidity: 2 situations, need at least 20", "compliance: 1 verdict-swap items, need at least 10",
                     "bias: 2 distinct names for group 'female', need at least 3"):
        assert expected in problems


def broken(tmp_path, **changes):
    rows = [json.loads(line) for line in (FIXTURES / "compliance.jsonl").read_text().splitlines()]
    row = rows[0]
    for key, value in changes.items():
        if key == "meta":
            row["meta"] = {k: v for k, v in dict(row["meta"], **value).items() if v is not None}
        else:
            row[key] = value
    path = tmp_path / "compliance.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return read_suites([path])[0]


def test_checker_flags_broken_items(tmp_path):
    item = broken(tmp_path)
    assert item_problems(item, words) == []
    long = broken(tmp_path, options=[item.options[0], item.options[1] + " Padding" * 30])
    assert any("token ratio" in p for p in item_problems(long, words))
    cited = broken(tmp_path, options=[item.options[0] + " The Waste Framework Directive agrees.", item.options[1]])
    assert any("one side only" in p for p in item_problems(cited, words))
    anonymous = broken(tmp_path, meta={"author": None})
    assert item_problems(anonymous, words) == ["meta.author is missing"]


def test_checker_flags_a_pair_whose_answer_moves(tmp_path):
    rows = [json.loads(line) for line in (FIXTURES / "bias.jsonl").read_text().splitlines()]
    rows[1]["answer"], rows[1]["options"] = 1, rows[1]["options"][::-1]
    path = tmp_path / "bias.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "bias pair 'fx-forklift': the answer index differs between its items" in suite_problems(read_suites([path]), words)


def test_overlap_counts_shared_eight_grams():
    copied = "Fluorescent tubes hold mercury, so they count as hazardous waste and belong with a licensed collector."
    options = {"copy": "Collect them apart. " + copied, "own": "Keep the 140 tubes whole in their boxes until Friday."}
    training = ["Some pair text. " + copied.replace("mercury", "mercury") + " More text.", "Unrelated words entirely here."]
    shares = overlap(options, training)
    assert shares["copy"] > 0.5 and shares["own"] == 0.0
    assert overlap({"n": "It costs 120 euros and saves 300 kWh a year in the hall."},
                   ["It costs 95 euros and saves 410 kWh a year in the hall."])["n"] == 1.0  # numbers are masked


def training_texts():
    """Prompt + chosen + rejected of every training pair: the hand-written exposure pairs (all four rounds), the
    exposure builder's and the legends pairs' train splits."""
    from dpo.data import read_pairs
    from eval.pipeline import project_pair_sets
    from exposure.builder import ensure_built
    for path in [*project_pair_sets("train").values(), ensure_built()["train"]]:
        for p in read_pairs(path)[0]:
            prompt = p.prompt if isinstance(p.prompt, str) else " ".join(m["content"] for m in p.prompt)
            yield " ".join((prompt, p.chosen, p.rejected))


def test_no_suite_option_shares_text_with_a_training_pair():
    from eval.validation import validation_suites
    shares = overlap(option_texts(eval_suites() + read_suites(validation_suites())), training_texts())
    over = {k: round(v, 3) for k, v in shares.items() if v > MAX_OVERLAP}
    assert not over, f"options sharing more than {MAX_OVERLAP:.0%} of their 8-grams with a training pair: {over}"
