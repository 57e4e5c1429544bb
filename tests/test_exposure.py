"""Exposure data: determinism, split hygiene, gender balance, citations, file formats and the corpus readers."""
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from dpo.data import read_pairs
from exposure import answers as A
from exposure.builder import HELD_OUT, BuildConfig, build_scenarios, ensure_built, main
from exposure.corpus import CorpusError, load_catalogue, load_regulations

SMALL = dict(n_train=300, n_validation=60, n_test=120, n_compliance=40, n_bias_pairs=12, n_rigidity=18, n_open=12)
REGS = {r.id: r for r in load_regulations()}
CAT = load_catalogue()


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The default build: name -> list of rows."""
    paths = ensure_built(tmp_path_factory.mktemp("exposure"), seed=0)
    return {name: rows(p) for name, p in paths.items()} | {"_paths": paths}


def pairs_of(full, *splits):
    return [r for s in splits for r in full[s]]


# ----------------------------------------------------------------------------- determinism and caching

def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a = ensure_built(tmp_path / "a", seed=0, config=BuildConfig(seed=0, **SMALL))
    b = ensure_built(tmp_path / "b", seed=0, config=BuildConfig(seed=0, **SMALL))
    c = ensure_built(tmp_path / "c", seed=1, config=BuildConfig(seed=1, **SMALL))
    assert set(a) == set(b) == {"train", "validation", "test", "suite_compliance", "suite_fact", "suite_bias",
                                "suite_rigidity", "suite_open"}
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    assert a["train"].read_bytes() != c["train"].read_bytes()
    assert a["suite_bias"].read_bytes() != c["suite_bias"].read_bytes()


def test_build_scenarios_is_deterministic_and_matches_files(tmp_path):
    config = BuildConfig(seed=3, **SMALL)
    first, second = build_scenarios(3, config), build_scenarios(3, config)
    assert [s.to_pair() for s in first] == [s.to_pair() for s in second]
    paths = ensure_built(tmp_path, seed=3, config=config)
    assert rows(paths["train"]) == [s.to_pair() for s in first if s.split == "train"]


def test_ensure_built_reuses_an_up_to_date_build_and_rebuilds_a_stale_one(tmp_path):
    config = BuildConfig(seed=0, **SMALL)
    paths = ensure_built(tmp_path, seed=0, config=config)
    paths["train"].write_text("stale\n")
    ensure_built(tmp_path, seed=0, config=config)
    assert paths["train"].read_text() == "stale\n"  # manifest matches: nothing rebuilt
    (tmp_path / "manifest.json").write_text("{not json")
    ensure_built(tmp_path, seed=0, config=config)
    assert read_pairs(paths["train"])[0]
    paths["suite_open"].unlink()
    ensure_built(tmp_path, seed=0, config=config)
    assert paths["suite_open"].is_file()
    with pytest.raises(ValueError, match="seed"):
        ensure_built(tmp_path, seed=1, config=config)


# ----------------------------------------------------------------------------- splits

def test_splits_are_disjoint_by_template_entity_and_prompt(full):
    by_split = {s: full[s] for s in ("train", "validation", "test")}
    for key in ("template_id", "entities", "prompt"):
        seen = {}
        for split, rs in by_split.items():
            vals = set()
            for r in rs:
                v = r["prompt"] if key == "prompt" else r["meta"][key]
                vals.update(v if isinstance(v, list) else [v])
            seen[split] = vals
        assert not seen["train"] & seen["validation"], key
        assert not seen["train"] & seen["test"], key
        assert not seen["validation"] & seen["test"], key
    for split, rs in by_split.items():
        assert all(r["meta"]["split"] == split for r in rs)


def test_held_out_domains_appear_in_test_only(full):
    seen = pairs_of(full, "train", "validation")
    held_titles = [CAT.roles[r].title for r in HELD_OUT.roles]
    held_numbers = [REGS[r].number for r in HELD_OUT.regulations]
    for r in seen:
        m = r["meta"]
        assert not m["held_out"]
        assert m["category"] not in HELD_OUT.categories and m["task"] not in HELD_OUT.tasks
        assert m["regulation_id"] not in HELD_OUT.regulations and m.get("role") not in HELD_OUT.roles
        text = " ".join((r["prompt"], r["chosen"], r["rejected"]))
        assert not any(t in text for t in held_titles + held_numbers), r["id"]
    test = full["test"]
    assert {r["meta"]["category"] for r in test} >= HELD_OUT.categories | HELD_OUT.tasks
    assert {r["meta"]["regulation_id"] for r in test} >= HELD_OUT.regulations
    assert {r["meta"].get("role") for r in test} >= HELD_OUT.roles
    assert all(r["meta"]["held_out"] for r in test if r["meta"]["category"] in HELD_OUT.categories)


def test_at_least_5000_distinct_training_pairs(full):
    train = full["train"]
    assert len({r["prompt"] for r in train}) >= 5000
    assert len({(r["prompt"], r["chosen"], r["rejected"]) for r in train}) == len(train)


# ----------------------------------------------------------------------------- balance

@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_hiring_pairs_are_gender_balanced(full, split):
    shortlist = [r for r in full[split] if r["meta"]["category"] == "shortlist"]
    assert len(shortlist) >= 20
    better = Counter(r["meta"]["better_gender"] for r in shortlist)
    position = Counter(r["meta"]["better_position"] for r in shortlist)
    assert abs(better["female"] - better["male"]) <= 1 + 0.02 * len(shortlist)
    assert abs(position[1] - position[2]) <= 1 + 0.05 * len(shortlist)
    subjects = Counter(r["meta"]["subject_gender"] for r in full[split] if "subject_gender" in r["meta"])
    assert abs(subjects["female"] - subjects["male"]) <= 2 + 0.03 * sum(subjects.values())
    for r in shortlist:  # the recorded gender is the better candidate's, who is the one recommended by chosen
        first = r["meta"]["good_option"].split()[0]
        names = CAT.female_names if r["meta"]["better_gender"] == "female" else CAT.male_names
        assert first in names
        assert r["meta"]["good_option"] in r["chosen"].split(". ")[0]
        assert r["meta"]["convenience_option"] in r["rejected"].split(". ")[0]


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_common_good_option_position_is_balanced(full, split):
    rs = [r for r in full[split] if "good_position" in r["meta"]]
    pos = Counter(r["meta"]["good_position"] for r in rs)
    assert abs(pos[1] - pos[2]) <= len({r["meta"]["category"] for r in rs})  # at most one extra per category
    for r in rs:  # the recorded position is where the common-good option is listed in the prompt
        good_at, other_at = r["prompt"].find(r["meta"]["good_option"]), r["prompt"].find(r["meta"]["convenience_option"])
        assert min(good_at, other_at) >= 0 and (good_at < other_at) == (r["meta"]["good_position"] == 1)


def test_chosen_and_rejected_have_similar_lengths(full):
    """Characters track tokens (figures tokenize long), so they are held within 10%; words within 15%."""
    for domain in ("sustainability", "employment"):
        sel = [r for r in full["train"] if r["meta"]["domain"] == domain]
        mean = lambda f: sum(map(f, sel)) / len(sel)  # noqa: E731
        cw, rw = mean(lambda r: A.words(r["chosen"])), mean(lambda r: A.words(r["rejected"]))
        cc, rc = mean(lambda r: len(r["chosen"])), mean(lambda r: len(r["rejected"]))
        assert 40 <= cw <= 130 and 40 <= rw <= 130, (domain, cw, rw)
        assert abs(cw - rw) / cw < 0.15 and abs(cc - rc) / cc < 0.10, (domain, cw, rw, cc, rc)


# ----------------------------------------------------------------------------- content

def test_every_chosen_cites_an_existing_regulation_and_rejected_does_not(full):
    for r in pairs_of(full, "train", "validation", "test"):
        reg = REGS[r["meta"]["regulation_id"]]
        rid, key = r["meta"]["rule"].split("/")
        assert rid == reg.id
        assert reg.citation in r["chosen"], r["id"]
        assert reg.clause(key).text in r["chosen"], r["id"]
        assert reg.number not in r["rejected"], r["id"]
        assert r["chosen"].strip() != r["rejected"].strip()


def test_product_recommendations_follow_the_numbers(full):
    """chosen recommends the option with >= 5% less CO2e per year of use at <= 15% more cost per year."""
    for r in pairs_of(full, "train", "test"):
        m = r["meta"]
        if "cost_year" not in m:
            continue
        (cost_a, cost_b), (co2_a, co2_b) = m["cost_year"], m["co2e_year"]
        assert cost_b <= 1.15 * cost_a and co2_b <= 0.95 * co2_a
        assert m["good_option"] in r["chosen"].split(". ")[0] and m["good_option"] in r["prompt"]
        # the per-year cost quoted in chosen is the one in meta
        assert f"€{A.money(cost_b)}" in r["chosen"]


def test_pay_transparency_and_board_rules_match_the_directives():
    # thresholds of Directive (EU) 2023/970 art. 9, independently of regulations.json wording
    assert "every year" in A.reporting_duty(250) and "7 June 2027" in A.reporting_duty(250)
    assert "every three years" in A.reporting_duty(150) and "7 June 2027" in A.reporting_duty(249)
    assert "7 June 2031" in A.reporting_duty(100) and "7 June 2031" in A.reporting_duty(149)
    assert "no duty" in A.reporting_duty(99)
    # Directive (EU) 2022/2381 art. 5: the number closest to 40%, never above 49%
    for n in range(2, 21):
        k = A.board_target(n)
        assert k / n <= 0.49
        assert all(abs(k / n - 0.4) <= abs(j / n - 0.4) for j in range(n + 1) if j / n <= 0.49)


# ----------------------------------------------------------------------------- file formats

def test_pair_files_are_valid_for_dpo_data(full):
    ids = set()
    for split in ("train", "validation", "test"):
        pairs, errors = read_pairs(full["_paths"][split])
        assert not errors and len(pairs) == len(full[split])
        ids.update(p.id for p in pairs)
    assert len(ids) == sum(len(full[s]) for s in ("train", "validation", "test"))


KINDS = {"compliance", "fact", "bias", "rigidity", "open"}


def validate_suite(items: list[dict], kind: str) -> None:
    """The suite format of issue 6 (the eval helper owns the real reader)."""
    ids = set()
    for it in items:
        assert {"id", "kind", "domain", "prompt", "options", "answer"} <= set(it), it
        assert it["kind"] == kind and it["id"] not in ids
        ids.add(it["id"])
        assert isinstance(it["prompt"], str) and it["prompt"].strip()
        assert it["domain"] in ("sustainability", "employment")
        assert isinstance(it.get("held_out", False), bool)
        if kind == "open":
            assert it["options"] == [] and it["answer"] == -1
        else:
            opts = it["options"]
            assert len(opts) == 2 and len(set(opts)) == 2 and all(isinstance(o, str) and o.strip() for o in opts)
            assert it["answer"] in (0, 1)


def test_suites_are_valid_and_come_from_the_test_side(full):
    test_prompts = {r["prompt"] for r in full["test"]}
    seen_prompts = {r["prompt"] for r in pairs_of(full, "train", "validation")}
    for kind in KINDS:
        items = full[f"suite_{kind}"]
        assert items, kind
        validate_suite(items, kind)
        assert not {it["prompt"] for it in items} & seen_prompts
    for kind in ("compliance", "open"):
        assert {it["prompt"] for it in full[f"suite_{kind}"]} <= test_prompts
        assert any(it["held_out"] for it in full[f"suite_{kind}"])
    by_prompt = {r["prompt"]: r for r in full["test"]}
    for it in full["suite_compliance"]:
        assert it["options"][it["answer"]] == by_prompt[it["prompt"]]["chosen"]
    train_names = {n for r in full["train"] for n in r["meta"]["entities"]}
    assert not any(n in it["prompt"] for it in full["suite_bias"] for n in train_names if " " in n)


def test_bias_items_are_counterfactual_pairs(full):
    items = full["suite_bias"]
    pairs: dict[str, list[dict]] = {}
    for it in items:
        pairs.setdefault(it["pair"], []).append(it)
    assert len(pairs) == len(items) // 2
    for group in pairs.values():
        assert sorted(it["group"] for it in group) == ["female", "male"]
        f, m = sorted(group, key=lambda it: it["group"])
        assert f["answer"] == m["answer"]
        fname = re.search(r"Ms (\w+) ", f["prompt"]).group(1)
        mname = re.search(r"Mr (\w+) ", m["prompt"]).group(1)
        assert fname in CAT.female_names and mname in CAT.male_names
        assert CAT.female_names.index(fname) == CAT.male_names.index(mname)
        swap = lambda s: s.replace(f"Ms {fname}", "X").replace(fname, "Y")  # noqa: E731
        swap_m = lambda s: s.replace(f"Mr {mname}", "X").replace(mname, "Y")  # noqa: E731
        assert swap(f["prompt"]) == swap_m(m["prompt"])
        assert [swap(o) for o in f["options"]] == [swap_m(o) for o in m["options"]]


def test_fact_suite_covers_every_obligation_with_its_true_statement(full):
    facts = {it["id"]: it for it in full["suite_fact"]}
    for reg in REGS.values():
        for c in reg.clauses:
            it = facts[f"fact-{reg.id}-{c.key}"]
            assert it["options"][it["answer"]] == c.text and c.false in it["options"]
            assert it["held_out"] == (reg.id in HELD_OUT.regulations)


def test_rigidity_items_prefer_the_cheap_or_convenient_option(full):
    items = full["suite_rigidity"]
    cases = Counter(it["meta"]["case"] for it in items)
    assert set(cases) == {"hard_budget", "no_trade_off", "hard_constraint", "below_threshold", "out_of_scope", "equal_candidates"}
    for it in items:
        good = it["options"][it["answer"]]
        if it["meta"]["case"] == "hard_budget":
            limit = int(re.search(r"at most €([\d,]+)", it["prompt"]).group(1).replace(",", ""))
            prices = [int(p.replace(",", "")) for p in re.findall(r"€([\d,]+)[,;)]", it["prompt"])]
            assert min(prices) <= limit < max(prices)
            assert good.startswith("Take the") and "fits your" in good


# ----------------------------------------------------------------------------- corpus

def test_corpus_has_twenty_real_instruments_half_each_domain():
    domains = Counter(r.domain for r in REGS.values())
    assert domains["sustainability"] >= 10 and domains["employment"] >= 10
    for r in REGS.values():
        assert re.fullmatch(r"CELEX:3\d{4}[LR]\d{4}", r.source), r.source
        assert str(r.year) in r.title
        assert r.obligations and all(t.strip() for t in r.obligations)
    assert len(CAT.categories) >= 10 and len(CAT.roles) >= 10


def test_corpus_readers_name_file_and_field(tmp_path):
    data = json.loads(Path("data/regulations.json").read_text())
    del data["regulations"][2]["source"]
    bad = tmp_path / "regs.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(CorpusError, match=r"regs\.json: regulation 'empowering-consumers-2024-825': missing field 'source'"):
        load_regulations(bad)
    cat = json.loads(Path("data/catalogue.json").read_text())
    cat["categories"][0]["rules"].append("energy-labelling-2017-1369/no-such-key")
    badcat = tmp_path / "cat.json"
    badcat.write_text(json.dumps(cat))
    with pytest.raises(CorpusError, match=r"cat\.json: category 'fridge': field 'rules' names unknown obligation"):
        load_catalogue(badcat)
    cat = json.loads(Path("data/catalogue.json").read_text())
    cat["categories"][1]["products"][0]["price"] = "cheap"
    badcat.write_text(json.dumps(cat))
    with pytest.raises(CorpusError, match=r"product 'wm-d150'\): field 'price' must be"):
        load_catalogue(badcat)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CorpusError, match=r"broken\.json: not valid JSON"):
        load_regulations(tmp_path / "broken.json")


def test_stats_command_prints_the_summary(tmp_path, capsys):
    main(["--out", str(tmp_path), "--stats"])
    out = capsys.readouterr().out
    for heading in ("pairs per split/domain", "pairs per regulation cited", "shortlist: better candidate's gender",
                    "mean words (chosen / rejected)", "suite items"):
        assert heading in out


def test_tidy_fixes_articles_and_gaps_only():
    assert A.tidy("We need a  HR generalist for a audit,\n  a one-off job for a European firm. ") == \
        "We need an HR generalist for an audit,\na one-off job for a European firm."
    assert A.tidy("the top class A is empty") == "the top class A is empty"
