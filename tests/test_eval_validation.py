"""Validation items (data/validation/*.jsonl) and eval/validation.py, the tool that chooses settings on them:
margins, seed grouping, paired differences to the base, end to end on the tiny model; the shipped items are
balanced like the test suites and share no domain, situation or text with them."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dpo.lora import LoRAConfig, inject_lora, lora_layers, save_adapter
from dpo.models import load_model
from eval.scoring import ItemScore, ScoringConfig, score_items
from eval.suite_checks import MAX_OVERLAP, balance_problems, item_problems, option_texts, overlap
from eval.suites import project_suites, read_suites
from eval.validation import SECOND_SET, VALIDATION_DIR, margins, paired, summarise, main, validation_suites

FIXTURES = Path(__file__).parent / "fixtures" / "eval"


def test_margin_is_the_answers_mean_logp_minus_the_others():
    scores = [ItemScore("a", 0, [-4.0, -9.0], [-1.0, -3.0], [4, 3]), ItemScore("b", 1, [-4.0, -9.0], [-1.0, -3.0], [4, 3])]
    assert margins(scores).tolist() == [2.0, -2.0]


def test_summarise_stacks_each_settings_seeds_and_pairs_it_with_the_base():
    base = np.array([0.1, -0.2, 0.3, -0.1])
    runs = {"lr-seed0": base + 0.2, "lr-seed1": base + 0.4, "other": base - 0.05}
    out = summarise(runs, base, ["s1", "s1", "s2", "s3"], {"lr": ["lr-seed0", "lr-seed1"], "other": ["other"]})
    assert set(out) == {"base", "lr", "other"} and out["lr"]["seeds"] == 2 and out["other"]["seeds"] == 1
    assert out["lr"]["margin"]["value"] == pytest.approx(base.mean() + 0.3)
    assert out["lr"]["margin_vs_base"]["diff"]["value"] == pytest.approx(0.3)
    assert out["other"]["margin_vs_base"]["diff"]["value"] == pytest.approx(-0.05)
    assert out["base"]["accuracy"]["value"] == 0.5 and out["lr"]["accuracy"]["value"] == pytest.approx(7 / 8)  # a margin of 0 is no choice
    assert out["lr"]["margin"]["clusters"] == 3


def test_paired_is_one_run_minus_another_per_kind_from_a_saved_file(tmp_path, capsys):
    items = read_suites([FIXTURES / "compliance.jsonl"])  # 4 two-option compliance items, 4 clusters
    saved = {"items": len(items), "margins": {"base": [0.1, -0.2, 0.3, -0.1], "b": [0.2, -0.1, 0.1, -0.3],
                                              "a": [0.5, 0.3, 0.2, -0.2]}}
    out = paired(saved, items, "a", "b")["compliance"]
    assert out["margin"]["diff"]["value"] == pytest.approx(0.225) and out["margin"]["diff"]["n"] == 4
    assert out["accuracy"]["diff"]["value"] == pytest.approx(0.25)  # the second item flips to the answer, none back
    assert out["accuracy"]["discordant"] == [1, 0] and out["accuracy"]["p_mcnemar"] == pytest.approx(1.0)
    assert out["margin"]["diff"]["lo"] <= 0.225 <= out["margin"]["diff"]["hi"]
    file = tmp_path / "v.json"
    file.write_text(json.dumps(saved))
    main(["--from", str(file), "--paired", "a", "b", "--suite", str(FIXTURES / "compliance.jsonl")])
    assert "compliance (4 items), a minus b: margin +0.2250" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no margins for c"):
        main(["--from", str(file), "--paired", "a", "c", "--suite", str(FIXTURES / "compliance.jsonl")])
    with pytest.raises(SystemExit, match="scored on 4 items, these suites have"):
        main(["--from", str(file), "--paired", "a", "b"])  # the default suites are not the ones it was scored on
    with pytest.raises(SystemExit, match="--paired A B goes with --from FILE"):
        main(["--paired", "a", "b", "--suite", str(FIXTURES / "compliance.jsonl")])


def test_validation_scores_the_base_and_each_run_merged_seeds_grouped_by_config(tmp_path, capsys):
    model, tok = load_model("tiny-random")
    inject_lora(model, LoRAConfig(r=2, alpha=4))
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.weight.normal_(0, 0.3)
    suite = FIXTURES / "compliance.jsonl"
    items = read_suites([suite])
    expected = margins(score_items(model, tok, items, ScoringConfig(precision="fp32")))
    for seed in (0, 1):  # two seeds of one setting (the same adapter, so their mean is known)
        save_adapter(model, tmp_path / f"run-seed{seed}" / "adapter", "tiny-random")
        (tmp_path / f"run-seed{seed}" / "config.json").write_text(json.dumps({"config": {"lr": 1e-3, "seed": seed}}))
    folder = tmp_path / "suites"  # --suite takes a folder of suite files too
    folder.mkdir()
    (folder / suite.name).write_text(suite.read_text())
    main([str(tmp_path / "run-seed0"), str(tmp_path / "run-seed1"), "--model", "tiny-random", "--suite", str(folder),
          "--precision", "fp32", "--out", str(tmp_path / "v.json")])
    out = json.loads((tmp_path / "v.json").read_text())
    assert out["margins"]["run-seed0"] == pytest.approx(expected.tolist(), abs=1e-4)
    base = margins(score_items(load_model("tiny-random")[0], tok, items, ScoringConfig(precision="fp32")))
    assert out["margins"]["base"] == pytest.approx(base.tolist(), abs=1e-5)
    grouped = out["results"]["compliance"]["run (2 seeds)"]
    assert grouped["seeds"] == 2 and set(out["results"]["compliance"]) == {"base", "run (2 seeds)"}
    assert grouped["margin_vs_base"]["diff"]["value"] == pytest.approx(float(np.mean(expected - base)), abs=1e-4)
    assert "| run (2 seeds) | 2 |" in capsys.readouterr().out


@pytest.mark.real_model
@pytest.mark.parametrize("folder", [VALIDATION_DIR, SECOND_SET], ids=["first", "second"])
def test_validation_items_are_balanced_and_apart_from_the_test_suites(count_tokens, folder):
    items, tests = read_suites(validation_suites(folder)), read_suites(project_suites())
    assert {i.kind for i in items} == {"compliance", "rigidity"} and len(items) >= 50
    problems = [f"{i.key}: {p}" for i in items for p in item_problems(i, count_tokens)]
    for kind in ("compliance", "rigidity"):
        problems += balance_problems(kind, [i for i in items if i.kind == kind], count_tokens)
    assert not problems, "\n".join(problems)
    assert not {i.domain for i in items} & {i.domain for i in tests}
    assert not {i.meta["situation"] for i in items} & {i.meta.get("situation") for i in tests}
    assert len({i.meta["situation"] for i in items}) == len(items)
    test_texts = [o for i in tests for o in i.options] + [i.prompt for i in tests if isinstance(i.prompt, str)]
    shared = {k: v for k, v in overlap(option_texts(items), test_texts).items() if v > MAX_OVERLAP}
    assert not shared, f"validation options sharing word 8-grams with a test item: {shared}"


def test_the_second_validation_set_is_apart_from_the_first_and_from_training():
    """data/validation2 was written for choices after the first set's five: no domain or situation of the first
    set, no domain that names a training pair's setting, and no option sharing wording with a training pair."""
    from strategies import AUTHORED_EXPOSURE
    first, second = read_suites(validation_suites()), read_suites(validation_suites(SECOND_SET))
    assert not {i.domain for i in first} & {i.domain for i in second}
    assert not {i.meta["situation"] for i in first} & {i.meta["situation"] for i in second}
    training = [json.loads(line) for path in sorted(AUTHORED_EXPOSURE.glob("*.jsonl")) for line in path.open()]
    settings = {r["meta"]["setting"].lower() for r in training}
    assert not [i.domain for i in second if any(i.domain.replace("-", " ") in s for s in settings)]
    texts = [" ".join((r["prompt"], r["chosen"], r["rejected"])) for r in training]
    shared = {k: v for k, v in overlap(option_texts(second), texts).items() if v > MAX_OVERLAP}
    assert not shared, f"second-set options sharing word 8-grams with a training pair: {shared}"
