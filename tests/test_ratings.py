import json

import pytest
import torch

from dpo.config import TrainConfig
from dpo.data import DataError, Truncation, collate, read_pairs, tokenize_pairs, write_pairs
from dpo.logprobs import SequenceLogps
from dpo.ratings import PairConfig, Rating, Ratings, main, read_ratings, ratings_to_pairs, write_ratings
from dpo.trainer import pair_loss

A, B = "Buy the A-class fridge.", "Buy the cheapest fridge."
C, D = "Hire Ana: she meets every requirement.", "Hire whoever asks for the lowest salary."
E, F = "Take the train.", "Take the car."
RATERS = {"r1": {"country": "PL", "gender": "female"}, "r2": {"country": "DE", "gender": "male"},
          "r3": {"country": "PL", "gender": "male"}}


def line(prompt, response, rater, help_, good, **extra):
    row = {"prompt": prompt, "response": response, "scores": {"help": help_, "good": good}, **extra}
    if rater:
        row.update(rater=rater, rater_attributes=RATERS[rater])
    return row


FRIDGE = {"prompt_id": "fridge"}
ROWS = [  # (help, good) on 1-5; utilities below are (help - 1) / 4 + (good - 1) / 4
    line("Which fridge?", A, "r1", 5, 4, response_id="a", **FRIDGE),  # 1.75
    line("Which fridge?", B, "r1", 2, 3, response_id="b", **FRIDGE),  # 0.75   r1: A
    line("Which fridge?", A, "r2", 2, 2, **FRIDGE),  # 0.5
    line("Which fridge?", B, "r2", 4, 3, **FRIDGE),  # 1.25                    r2: B
    line("Which fridge?", A, "r3", 5, 3, **FRIDGE),  # 1.5
    line("Which fridge?", B, "r3", 4, 2, **FRIDGE),  # 1.0                     r3: A (binarised at 4: a tie)
    line("Which fridge?", A, None, 1, 1, **FRIDGE),  # 0.0, anonymous: only the mean uses it
    line("Whom to hire?", C, "r1", 5, 2),  # 1.25
    line("Whom to hire?", D, "r1", 3, 4),  # 1.25                              r1: tie
    line("Whom to hire?", C, "r2", 4, 5),  # 1.75, r2 never rates D
    line("Car or train?", E, "r1", 3, 3),  # 1.0
    line("Car or train?", F, "r2", 4, 4),  # 1.5, no rater rated both E and F
]
HEADER = {"scales": {"help": [1, 5], "good": [1, 5]}, "description": "test panel"}


def write_lines(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def ratings(tmp_path):
    return read_ratings(write_lines(tmp_path / "ratings.jsonl", [HEADER] + ROWS))


def got(pairs):
    """(id, chosen, rejected, confidence to 6 decimals) of each pair."""
    return [(p.id, p.chosen, p.rejected, None if p.confidence is None else round(p.confidence, 6)) for p in pairs]


@pytest.mark.parametrize("aggregation, binarize, expected, ties, no_common", [
    ("majority", None, [("fridge:a>b", A, B, None)], 1, 1),
    ("soft", None, [("fridge:a>b", A, B, round(2 / 3, 6))], 1, 1),
    ("keep-all", None, [("fridge:a>b:r1", A, B, None), ("fridge:b>a:r2", B, A, None), ("fridge:a>b:r3", A, B, None)], 1, 1),
    # means: A (1.75 + 0.5 + 1.5 + 0) / 4 < B 1.0; C (1.25 + 1.75) / 2 > D 1.25; E 1.0 < F 1.5
    ("mean", None, [("fridge:b>a", B, A, None), ("p1:r0>r1", C, D, None), ("p2:r1>r0", F, E, None)], 0, 0),
    # binarised at 4: r1 A 2 > B 0, r2 A 0 < B 1, r3 A 1 = B 1; r1 C 1 = D 1
    ("majority", 4, [], 2, 1),
    ("soft", 4, [], 2, 1),
    ("keep-all", 4, [("fridge:a>b:r1", A, B, None), ("fridge:b>a:r2", B, A, None)], 2, 1),
])
def test_each_aggregation_gives_the_hand_computed_pairs(ratings, aggregation, binarize, expected, ties, no_common):
    pairs, counts = ratings_to_pairs(ratings, PairConfig(aggregation=aggregation, binarize=binarize))
    assert got(pairs) == expected
    assert (counts["ties"], counts["no_common_rater"], counts["comparisons"], counts["pairs"]) == \
        (ties, no_common, 3, len(expected))
    assert all(p.prompt in ("Which fridge?", "Whom to hire?", "Car or train?") for p in pairs)


def test_votes_and_rater_in_pair_meta(ratings):
    (pair,), _ = ratings_to_pairs(ratings, PairConfig(aggregation="soft"))
    assert pair.meta["votes"] == {"chosen": 2, "rejected": 1, "tied": 0} and pair.meta["aggregation"] == "soft"
    pairs, _ = ratings_to_pairs(ratings, PairConfig(aggregation="keep-all"))
    assert [p.meta["rater_attributes"] for p in pairs] == [RATERS["r1"], RATERS["r2"], RATERS["r3"]]


def test_dimension_weights_decide_a_tie(ratings):
    # r1 on hiring: C (help 5, good 2) vs D (help 3, good 4) is a tie at equal weights
    help_first, _ = ratings_to_pairs(ratings, PairConfig(weights={"help": 2, "good": 1}))
    good_only, _ = ratings_to_pairs(ratings, PairConfig(weights={"good": 1}))
    assert ("p1:r0>r1", C, D, None) in got(help_first)
    assert ("p1:r1>r0", D, C, None) in got(good_only)


@pytest.mark.parametrize("where", [{"country": ["PL"]}, {"gender": ["male"]}, {"country": ["DE", "PL"], "gender": ["female"]}])
def test_group_filter_keeps_only_that_groups_pairs(ratings, where):
    def member(rater):
        return all(RATERS[rater][k] in v for k, v in where.items())
    every, _ = ratings_to_pairs(ratings, PairConfig(aggregation="keep-all"))
    group, counts = ratings_to_pairs(ratings, PairConfig(aggregation="keep-all", where=where))
    assert got(group) == got([p for p in every if member(p.meta["rater"])])
    assert group and all(member(p.meta["rater"]) for p in group)
    assert counts["kept"] == sum(1 for r in ROWS if r.get("rater") and member(r["rater"]))


def test_group_filter_changes_the_majority(ratings):
    pl, _ = ratings_to_pairs(ratings, PairConfig(aggregation="soft", where={"country": ["PL"]}))  # r1, r3: both A
    men, counts = ratings_to_pairs(ratings, PairConfig(aggregation="soft", where={"gender": ["male"]}))  # r2 B, r3 A
    assert got(pl) == [("fridge:a>b", A, B, 1.0)]
    assert men == [] and counts["ties"] == 1


@pytest.mark.parametrize("row, message", [
    ("{not json", "not valid JSON"),
    (["a"], "expected a JSON object"),
    ({"prompt": "p", "response": "x"}, "missing field 'scores'"),
    ({"prompt": "", "response": "x", "scores": {"help": 3}}, "field 'prompt' is empty"),
    ({"prompt": "p", "response": " ", "scores": {"help": 3}}, "field 'response' must be a non-empty string"),
    ({"prompt": "p", "response": "x", "scores": {"help": 6}}, "score 'help' must be a number in [1, 5], got 6"),
    ({"prompt": "p", "response": "x", "scores": {"help": True}}, "score 'help' must be a number"),
    ({"prompt": "p", "response": "x", "scores": {"tone": 3}}, "no scale declared for dimension 'tone'"),
    ({"prompt": "p", "response": "x", "scores": {}}, "field 'scores' must be a non-empty object"),
    ({"prompt": "p", "response": "x", "scores": {"help": 3}, "rater": 7}, "field 'rater' must be a str"),
    ({"prompt": "p", "response": "x", "scores": {"help": 3}, "rater_attributes": {"age": [30]}}, "rater attribute 'age'"),
    (HEADER, "a header line ('scales') may only be the file's first line"),
    (line("Which fridge?", A, "r1", 3, 3), "rater 'r1' already rated this response at"),
    (dict(line("Which fridge?", F, "r1", 3, 3), rater_attributes={"country": "FR"}), "rater 'r1' has other attributes"),
    (dict(line("Which fridge?", F, "r2", 3, 3), prompt_id="frigo"), "prompt_id 'frigo', but 'fridge' at"),
])
def test_reader_rejects_bad_lines_with_file_and_line(tmp_path, row, message):
    path = write_lines(tmp_path / "r.jsonl", [HEADER, ROWS[0], "", row])
    with pytest.raises(DataError) as err:
        read_ratings(path)
    assert f"{path}:4: " in str(err.value) and message in str(err.value)


def test_reader_header_scales_and_flags(tmp_path):
    no_header = write_lines(tmp_path / "a.jsonl", ROWS)
    with pytest.raises(DataError, match=r"a\.jsonl:1: no scale declared for dimension '(help|good)'.*--scale"):
        read_ratings(no_header)
    r = read_ratings(no_header, scales={"help": (1, 5), "good": (0, 10)})
    assert r.scales == {"help": (1.0, 5.0), "good": (0.0, 10.0)} and len(r.ratings) == len(ROWS)
    with pytest.raises(DataError, match=r"b\.jsonl:1: scale of 'help' must be \[lo, hi\]"):
        read_ratings(write_lines(tmp_path / "b.jsonl", [{"scales": {"help": [5, 1]}}]))
    with pytest.raises(DataError, match=r"c\.jsonl:1: unknown header field\(s\) scale"):
        read_ratings(write_lines(tmp_path / "c.jsonl", [{"scales": {"help": [1, 5]}, "scale": 1}]))
    with pytest.raises(DataError, match="no ratings"):
        read_ratings(write_lines(tmp_path / "d.jsonl", [HEADER]))


def test_missing_score_and_bad_config_are_named(tmp_path):
    ratings = read_ratings(write_lines(tmp_path / "r.jsonl", [HEADER, dict(ROWS[0], scores={"help": 4})]))
    with pytest.raises(DataError, match=r"r\.jsonl:2: no 'good' score"):
        ratings_to_pairs(ratings, PairConfig())
    for cfg, message in ((PairConfig(aggregation="median"), "aggregation must be one of"),
                         (PairConfig(weights={"tone": 1}), "no dimension tone"),
                         (PairConfig(weights={"help": 0}), "not all 0"),
                         (PairConfig(binarize=1), r"must lie in \(1, 5\]")):
        with pytest.raises(ValueError, match=message):
            ratings_to_pairs(ratings, cfg)


def test_write_then_read_ratings_round_trip(tmp_path, ratings):
    write_ratings(tmp_path / "copy.jsonl", ratings)
    again = read_ratings(tmp_path / "copy.jsonl")
    assert again.scales == ratings.scales and again.description == "test panel"
    assert [r.to_json() for r in again.ratings] == [r.to_json() for r in ratings.ratings]
    assert again.ratings[0] == Rating("Which fridge?", A, {"help": 5.0, "good": 4.0}, "r1", RATERS["r1"], "fridge", "a",
                                      where=f"{tmp_path / 'copy.jsonl'}:2")


def test_command_line_writes_a_pair_file_the_trainer_reads(tmp_path, capsys):
    src = write_lines(tmp_path / "ratings.jsonl", [{"scales": {"help": [1, 5]}}] +
                      [dict(r, scores={"help": r["scores"]["help"]}) for r in ROWS])
    main([str(src), "--out", str(tmp_path / "pairs.jsonl"), "--aggregation", "soft", "--where", "country=PL,DE",
          "--scale", "help=0:5", "--dimensions", "help"])
    pairs, _ = read_pairs(tmp_path / "pairs.jsonl")
    # help only, on 0-5: fridge r1 A 5 > B 2, r2 A 2 < B 4, r3 A 5 > B 4; hiring r1 C 5 > D 3
    assert got(pairs) == ([("fridge:a>b", A, B, round(2 / 3, 6)), ("p1:r0>r1", C, D, 1.0)])
    assert "12 ratings (11 kept by the group filter)" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no pairs"):
        main([str(src), "--out", str(tmp_path / "none.jsonl"), "--where", "country=FR"])
    with pytest.raises(SystemExit, match="--where wants"):
        main([str(src), "--out", str(tmp_path / "none.jsonl"), "--where", "country"])


# ----------------------------------------------------------------------------- confidence in pair files and training

def test_pair_file_confidence_is_read_validated_and_batched(tmp_path, tiny):
    rows = [{"prompt": "Which fridge?", "chosen": A, "rejected": B, "confidence": 0.75},
            {"prompt": "Whom to hire?", "chosen": C, "rejected": D}]
    pairs, _ = read_pairs(write_lines(tmp_path / "p.jsonl", rows))
    assert [p.confidence for p in pairs] == [0.75, None]
    write_pairs(tmp_path / "again.jsonl", pairs)
    assert read_pairs(tmp_path / "again.jsonl")[0] == pairs
    for bad in (0.5, 1.5, "high", True):
        with pytest.raises(DataError, match=r"p2\.jsonl:1: field 'confidence' must be a number in \(0\.5, 1\]"):
            read_pairs(write_lines(tmp_path / "p2.jsonl", [dict(rows[0], confidence=bad)]))
    _, tok = tiny
    examples = tokenize_pairs(tok, pairs, Truncation(256, 128)).examples
    assert collate(examples, tok.pad_token_id)["confidence"].tolist() == [0.75, 1.0]
    assert "confidence" not in collate(examples[1:], tok.pad_token_id)


def test_confidence_one_everywhere_gives_the_loss_of_no_confidence(tmp_path, tiny):
    model, tok = tiny
    rows = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in
            (("Which fridge?", A, B), ("Whom to hire?", C, D), ("Car or train?", E, F))]
    plain, _ = read_pairs(write_lines(tmp_path / "plain.jsonl", rows))
    sure, _ = read_pairs(write_lines(tmp_path / "sure.jsonl", [dict(r, confidence=1.0) for r in rows]))
    soft, _ = read_pairs(write_lines(tmp_path / "soft.jsonl", [dict(r, confidence=0.7) for r in rows]))
    g = torch.Generator().manual_seed(0)
    ref = tuple(SequenceLogps(-50 * torch.rand(3, generator=g), -torch.rand(3, generator=g), torch.full((3,), 10))
                for _ in range(2))
    cfg = TrainConfig(model="tiny-random", loss="sigmoid")
    losses = {}
    for name, pairs in (("plain", plain), ("sure", sure), ("soft", soft)):
        batch = collate(tokenize_pairs(tok, pairs, Truncation(256, 128)).examples, tok.pad_token_id)
        with torch.no_grad():
            losses[name] = pair_loss(model, batch, ref, cfg)[0]
    assert torch.equal(losses["plain"], losses["sure"])
    assert losses["soft"] != losses["plain"]


def test_confidence_needs_a_loss_that_takes_it(tmp_path):
    from dpo.run import run_training
    path = write_lines(tmp_path / "soft.jsonl", [{"prompt": "Which fridge?", "chosen": A, "rejected": B, "confidence": 0.8}])
    with pytest.raises(ValueError, match="confidence < 1 need loss sigmoid, robust, simpo, not 'ipo'"):
        run_training(TrainConfig(model="tiny-random", data=[str(path)], loss="ipo", out=str(tmp_path / "run"),
                                 cache_dir=str(tmp_path / "cache"), precision="fp32"))


def test_ratings_file_from_python_objects(tmp_path):
    ratings = Ratings({"help": (0.0, 1.0)}, [Rating("p", "x", {"help": 1.0}, "u"), Rating("p", "y", {"help": 0.0}, "u")])
    write_ratings(tmp_path / "r.jsonl", ratings)
    pairs, _ = ratings_to_pairs(read_ratings(tmp_path / "r.jsonl"), PairConfig())
    assert got(pairs) == [("p0:r0>r1", "x", "y", None)]
