"""The hand-written exposure pairs (data/exposure/authored/): the properties that make them worth training on.

Each pair: a user's question (a purchase, hire, pay, leave or product-claim decision) and two replies, the chosen
one right for the reason the obligation protects (kind "compliance"), or the proportionate one where the rule does
not reach and the other over-applies it (kind "proportionality"). Written by hand for one spec each; balanced so
that length, sentence count and naming a law do not tell chosen from rejected (the cue audit's rules)."""
import json
import re
from pathlib import Path

import pytest

from dpo.config import TrainConfig
from dpo.data import read_pairs
from eval.validation import SECOND_SET, validation_suites
from exposure.audit import audit
from strategies import AUTHORED_EXPOSURE, resolve

ROOT = Path(__file__).resolve().parents[1]
REGULATIONS = {r["id"]: r for r in json.loads((ROOT / "data" / "regulations.json").read_text())["regulations"]}
HELD_OUT = [*sorted((ROOT / "data" / "eval").glob("*.jsonl")), *validation_suites(), *validation_suites(SECOND_SET)]


@pytest.fixture(scope="module")
def splits():
    """train (rounds 1-4, the default), validation (held out, round 1)."""
    return {split: read_pairs(AUTHORED_EXPOSURE / f"{split}.jsonl")[0] for split in ("train", "validation")}


@pytest.fixture(scope="module")
def pairs(splits):
    return splits["train"] + splits["validation"]


ROUNDS = {"round1": "ea", "round2": "eb", "round3": "ec", "round4": "ed"}  # each round of 256 written and levelled on its own


def words(text: str) -> int:
    return len(text.split())


def test_at_least_500_distinct_pairs_in_disjoint_splits(splits, pairs):
    assert len(pairs) >= 500 and len(splits["validation"]) >= 24
    assert all(p.id.startswith(ROUNDS["round1"]) for p in splits["validation"])  # rounds 2-4 are all training data
    assert {prefix: sum(p.id.startswith(prefix) for p in pairs) for prefix in ROUNDS.values()} == dict.fromkeys(ROUNDS.values(), 256)
    assert len({p.id for p in pairs}) == len(pairs)
    assert len({p.prompt for p in pairs}) == len(pairs)
    kinds = [p.meta["kind"] for p in pairs]
    assert set(kinds) == {"compliance", "proportionality"}
    assert 0.2 <= kinds.count("proportionality") / len(kinds) <= 0.35  # the rule's limits are taught too
    assert {p.meta["kind"] for p in splits["validation"]} == {"compliance", "proportionality"}


def test_every_rule_is_a_real_obligation_the_builder_also_teaches(pairs):
    """meta.rule names an obligation of data/regulations.json; the rules are the exposure builder's 57, so the
    fact suite's seen/unseen split means the same for either exposure source."""
    from exposure.builder import BuildConfig, ensure_built
    built = read_pairs(ensure_built(config=BuildConfig(seed=0))["train"])[0]
    for p in pairs:
        regulation, key = p.meta["rule"].split("/")
        assert key in {o["key"] for o in REGULATIONS[regulation]["obligations"]}, p.id
    assert {p.meta["rule"] for p in pairs} == {p.meta.get("rule") for p in built}


@pytest.mark.parametrize("round_", ROUNDS)
def test_no_length_sentence_number_or_citation_cue(pairs, round_):
    """Per round of 256 pairs, each of the cue audit's one-rule classifiers (more words, sentences, numbers; names
    a law) is near chance (0.5), and so is its function-word regression (5-fold cross-validation): the sides
    differ in the argument."""
    members = [p for p in pairs if p.id.startswith(ROUNDS[round_])]
    result = audit([{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "meta": {"split": "all"}} for p in members],
                   count_tokens=lambda text: len(text.split()))["groups"]["all"]
    for rule in ("words", "sents", "nums", "cites"):
        assert result[rule] <= 0.62, (rule, result[rule])
    assert result["bow_func"] <= 0.65
    for p in members:
        assert 75 <= words(p.chosen) <= 160 and 75 <= words(p.rejected) <= 160, p.id
        assert max(words(p.chosen), words(p.rejected)) / min(words(p.chosen), words(p.rejected)) <= 1.25, p.id
    declared = [p.meta["citations"] for p in members]
    assert abs(sum(c["chosen"] for c in declared) - sum(c["rejected"] for c in declared)) <= 0.05 * len(members)


def test_varied_not_templated(pairs):
    """No reply opening (first four words) is shared by more than 2% of replies, no sentence of 8+ words recurs,
    and the situations spread over many settings and most EU countries."""
    replies = [r for p in pairs for r in (p.chosen, p.rejected)]
    openings = [" ".join(r.split()[:4]).lower() for r in replies]
    assert max(openings.count(o) for o in set(openings)) <= max(2, len(replies) // 50)
    sentences = [s.strip() for r in replies + [p.prompt for p in pairs] for s in re.split(r"(?<=[.!?])\s+", r)
                 if len(s.split()) >= 8]
    assert len(set(sentences)) == len(sentences)
    assert len({p.meta["setting"] for p in pairs}) >= 60
    assert len({p.meta["country"] for p in pairs}) >= 20


def test_no_text_copied_from_test_or_validation_items(pairs):
    """No prompt shares a 12-word run with the prompt of an evaluation or validation item, and no pair a 20-word
    run with any of their text (they stay held out). Shorter runs do recur: both restate the same obligations
    ("the right not to be subject to decisions based solely on automated processing")."""
    def runs(text: str, n: int) -> set[str]:
        w = re.findall(r"[a-z0-9€]+", text.lower())
        return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}
    items = [json.loads(line) for path in HELD_OUT for line in path.read_text().splitlines() if line.strip()]
    prompts = set().union(*(runs(str(item.get("prompt", "")), 12) for item in items))
    text = set().union(*(runs(json.dumps(item, ensure_ascii=False), 20) for item in items))
    for p in pairs:
        assert not runs(p.prompt, 12) & prompts, p.id
        assert not runs(f"{p.prompt} {p.chosen} {p.rejected}", 20) & text, p.id


def test_the_authored_source_trains_on_these_files():
    plan = resolve(TrainConfig(strategy="exposure", exposure_source="authored"))
    assert plan.train == [AUTHORED_EXPOSURE / "train.jsonl"] and plan.eval == [AUTHORED_EXPOSURE / "validation.jsonl"]
    mixed = resolve(TrainConfig(strategy="mixed", exposure_source="authored"))
    assert mixed.train[0] == AUTHORED_EXPOSURE / "train.jsonl" and len(mixed.train) == 2
    with pytest.raises(ValueError, match="exposure_source must be one of"):
        resolve(TrainConfig(exposure_source="typed"))
