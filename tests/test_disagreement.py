import json
from collections import Counter
from pathlib import Path

from dpo.ratings import PairConfig, read_ratings, ratings_to_pairs
from experiments import run as runner
from exposure.panel import PROFILES, RATERS_PER_PROMPT, rate

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "ratings" / "advisor_ratings.jsonl"


def exposure_like(i: int, domain: str) -> dict:
    meta = {"split": "train", "domain": domain, "category": "fridge" if domain == "sustainability" else "shortlist"}
    if domain == "sustainability":
        meta.update(cost_year=[100.0, 100.0 + 10 * i], co2e_year=[50.0, 30.0])
    return {"id": f"train-{i:05d}", "prompt": f"Question {i}?", "chosen": f"The good answer {i}.",
            "rejected": f"The cheap answer {i}.", "meta": meta}


def test_panel_is_seeded_and_rates_each_prompt_by_seven_profiles():
    pairs = [exposure_like(i, d) for i, d in enumerate(["sustainability", "employment"] * 3)]
    ratings = rate(pairs, seed=0)
    assert [r.to_json() for r in ratings] == [r.to_json() for r in rate(pairs, seed=0)]
    assert [r.scores for r in ratings] != [r.scores for r in rate(pairs, seed=1)]
    per_prompt = Counter(r.prompt_id for r in ratings)
    assert set(per_prompt.values()) == {2 * RATERS_PER_PROMPT}
    assert {r.meta["side"] for r in ratings} == {"common_good", "convenience"}
    assert all(1 <= s <= 5 and s == int(s) for r in ratings for s in r.scores.values())


def test_shipped_ratings_are_synthetic_and_disagree():
    ratings = read_ratings(SHIPPED)
    assert "SYNTHETIC" in ratings.description and set(ratings.scales) == {"helpfulness", "common_good", "legal_care"}
    assert {r.rater for r in ratings.ratings} == {p.rater for p in PROFILES}
    assert {r.meta["split"] for r in ratings.ratings} == {"train", "validation"}
    keep_all, _ = ratings_to_pairs(ratings, PairConfig("keep-all"))
    sides = {(p.id.split(":")[0], p.meta["chosen_meta"]["side"]) for p in keep_all}  # id: prompt:chosen>rejected:rater
    split_prompts = Counter(prompt for prompt, _ in sides)
    assert sum(n == 2 for n in split_prompts.values()) >= 10  # on many prompts some raters prefer each response
    soft, _ = ratings_to_pairs(ratings, PairConfig("soft"))
    assert any(p.confidence < 0.75 for p in soft) and any(p.meta["chosen_meta"]["side"] == "convenience" for p in soft)


def test_disagreement_experiment_runs_end_to_end_on_the_tiny_model(tmp_path):
    exp = tmp_path / "disagreement_tiny.py"
    exp.write_text(
        "from pathlib import Path\nfrom dpo.config import TrainConfig\nfrom experiments.disagreement import make_runs\n"
        f"base = TrainConfig(model='tiny-random', precision='fp32', max_train_pairs=16, max_eval_pairs=6, max_steps=2,\n"
        f"                   eval_every=2, max_length=512, max_prompt_length=256, cache_dir={str(tmp_path / 'cache')!r})\n"
        f"runs = make_runs(base, out_dir=Path({str(tmp_path / 'pairs')!r}))\n")
    results = tmp_path / "results"
    runner.main([str(exp), "--results", str(results), "--no-eval"])
    from experiments.disagreement import table
    from dpo.config import load_experiment
    runs = load_experiment(str(exp))
    assert sorted(runs) == sorted(f"{a}-{s}" for a in ("majority", "keep-all", "soft") for s in ("5pt", "binary"))
    for name, cfg in runs.items():
        run_dir = results / "disagreement_tiny" / name
        assert (run_dir / "adapter" / "adapter_model.safetensors").exists()
        record = json.loads((run_dir / "config.json").read_text())["data"]
        assert (record["train_pairs"], record["eval_pairs"]) == (16, 6)
    soft = [json.loads(line) for line in open(runs["soft-5pt"].data[0])]
    assert any(row["confidence"] < 1 for row in soft)
    keep_all = sum(1 for _ in open(runs["keep-all-5pt"].data[0]))
    assert keep_all > 3 * sum(1 for _ in open(runs["majority-5pt"].data[0]))
    report = table(results / "disagreement_tiny", runs)
    assert all(f"| {name} |" in report for name in runs) and "| - |" not in report


def test_panel_rates_only_standard_pairs_where_chosen_is_the_common_good(tmp_path):
    from exposure.panel import select
    kinds = [("sustainability", "standard"), ("sustainability", "proportionality"), ("employment", "proportionality"),
             ("employment", "standard")]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"p{i}", "meta": {"domain": d, "kind": k}})
                              for i, (d, k) in enumerate(kinds)) + "\n")
    assert [row["id"] for row in select(path, 4)] == ["p0", "p3"]
