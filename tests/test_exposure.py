"""Exposure data v2: the cue targets on the built data, determinism, split hygiene, balance, citations,
proportionality, the numbers and rules answers state, file formats and the corpus readers."""
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from dpo.data import read_pairs
from exposure.audit import MAX_RATIO, audit, token_counter
from exposure.builder import HELD_OUT, BuildConfig, build_scenarios, ensure_built, is_proportionality, main
from exposure.corpus import CorpusError, load_catalogue, load_regulations
from exposure.frames import VERDICT, VERDICT_LAST, tidy
from exposure.proportionality import TOPICS
from exposure import answers as A

SMALL = dict(n_train=300, n_validation=60, n_test=120)
REGS = {r.id: r for r in load_regulations()}
CAT = load_catalogue()
SPLITS = ("train", "validation", "test")
ROOT = Path(__file__).resolve().parents[1]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The default build: split -> rows, plus the paths and the manifest."""
    paths = ensure_built(tmp_path_factory.mktemp("exposure"), seed=0)
    built = {name: rows(p) for name, p in paths.items()}
    return built | {"_paths": paths, "_manifest": json.loads((paths["train"].parent / "manifest.json").read_text())}


@pytest.fixture(scope="module")
def tokens():
    return token_counter()


def pairs_of(full, *splits):
    return [r for s in splits for r in full[s]]


# ----------------------------------------------------------------------------- the cue targets (issue 11)

def test_no_surface_cue_separates_chosen_from_rejected_on_the_test_split(full, tokens):
    """Every one-rule classifier <= 0.60 and the function-word regression <= 0.65 on the test split (overall and
    per domain and kind for the one-rule classifiers); the manifest carries the same audit."""
    result = audit(full["test"], full["train"], count_tokens=tokens, split="test")
    assert json.loads(json.dumps(result)) == full["_manifest"]["audit"]["test"]
    for name, g in result["groups"].items():
        for rule in ("words", "tokens", "sents", "cites", "nums", "pos"):
            if g[rule] is not None:
                assert g[rule] <= 0.60, (name, rule, g[rule])
        assert g["ratio_max"] <= MAX_RATIO + 1e-9, name
    assert result["groups"]["test"]["bow_func"] <= 0.65
    assert 0.45 <= result["groups"]["test"]["chosen_longer"] <= 0.55


def test_token_lengths_match_per_pair_and_the_longer_side_alternates(full, tokens):
    for split in SPLITS:
        longer = Counter()
        for r in full[split]:
            c, j = tokens(r["chosen"]), tokens(r["rejected"])
            assert max(c, j) / min(c, j) <= MAX_RATIO, r["id"]
            longer[(r["meta"]["kind"], r["meta"]["domain"], c > j)] += 1
        for kind in ("standard", "proportionality"):
            for domain in ("sustainability", "employment"):
                assert abs(longer[(kind, domain, True)] - longer[(kind, domain, False)]) <= 1, (split, kind, domain)


# ----------------------------------------------------------------------------- determinism and caching

def test_same_config_same_bytes_and_other_seed_differs(tmp_path):
    a = ensure_built(tmp_path / "a", seed=0, config=BuildConfig(seed=0, **SMALL))
    b = ensure_built(tmp_path / "b", seed=0, config=BuildConfig(seed=0, **SMALL))
    c = ensure_built(tmp_path / "c", seed=1, config=BuildConfig(seed=1, **SMALL))
    assert set(a) == {"train", "validation", "test"}
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    assert a["train"].read_bytes() != c["train"].read_bytes()
    manifest = lambda p: json.loads((p["train"].parent / "manifest.json").read_text())  # noqa: E731
    assert manifest(a) == manifest(b)
    assert "cue audit" in manifest(a)["audit_table"]["test"][0]


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
    paths["test"].unlink()
    ensure_built(tmp_path, seed=0, config=config)
    assert paths["test"].is_file()
    with pytest.raises(ValueError, match="seed"):
        ensure_built(tmp_path, seed=1, config=config)


def test_each_setting_has_its_own_default_folder():
    names = {BuildConfig().name, BuildConfig(citations="none").name, BuildConfig(proportionality=0.0).name,
             BuildConfig(seed=1).name, BuildConfig(**SMALL).name}
    assert len(names) == 5 and BuildConfig().name == "balanced-p0.2-seed0"
    with pytest.raises(ValueError, match="citations"):
        BuildConfig(citations="some")
    with pytest.raises(ValueError, match="proportionality"):
        BuildConfig(proportionality=1.5)


# ----------------------------------------------------------------------------- splits

def test_splits_are_disjoint_by_template_entity_and_prompt(full):
    for key in ("template_id", "entities", "prompt"):
        seen = {}
        for split in SPLITS:
            vals = set()
            for r in full[split]:
                v = r["prompt"] if key == "prompt" else r["meta"][key]
                vals.update(v if isinstance(v, list) else [v])
            seen[split] = vals
        assert not seen["train"] & seen["validation"], key
        assert not seen["train"] & seen["test"], key
        assert not seen["validation"] & seen["test"], key
    for split in SPLITS:
        assert all(r["meta"]["split"] == split for r in full[split])


def test_held_out_domains_appear_in_test_only(full):
    held_titles = [CAT.roles[r].title for r in HELD_OUT.roles]
    held_numbers = [REGS[r].number for r in HELD_OUT.regulations]
    for r in pairs_of(full, "train", "validation"):
        m = r["meta"]
        assert not m["held_out"]
        assert m["category"] not in HELD_OUT.categories | HELD_OUT.tasks
        assert m["regulation_id"] not in HELD_OUT.regulations and m.get("role") not in HELD_OUT.roles
        text = " ".join((r["prompt"], r["chosen"], r["rejected"]))
        assert not any(t in text for t in held_titles + held_numbers), r["id"]
    test = full["test"]
    assert {r["meta"]["category"] for r in test} >= HELD_OUT.categories | HELD_OUT.tasks
    assert {r["meta"]["regulation_id"] for r in test} >= HELD_OUT.regulations
    assert {r["meta"].get("role") for r in test} >= HELD_OUT.roles
    assert all(r["meta"]["held_out"] for r in test if r["meta"]["category"] in HELD_OUT.categories | HELD_OUT.tasks)


def test_at_least_5000_distinct_training_pairs(full):
    train = full["train"]
    assert len({r["prompt"] for r in train}) >= 5000
    assert len({(r["prompt"], r["chosen"], r["rejected"]) for r in train}) == len(train)


# ----------------------------------------------------------------------------- balance

@pytest.mark.parametrize("split", SPLITS)
def test_hiring_pairs_are_gender_and_position_balanced(full, split):
    shortlist = [r for r in full[split] if r["meta"]["category"] == "shortlist" and r["meta"]["kind"] == "standard"]
    assert len(shortlist) >= 20
    better = Counter(r["meta"]["better_gender"] for r in shortlist)
    position = Counter(r["meta"]["chosen_position"] for r in shortlist)
    assert abs(better["female"] - better["male"]) <= 1 + 0.02 * len(shortlist)
    assert abs(position[1] - position[2]) <= 1 + 0.05 * len(shortlist)
    subjects = Counter((r["meta"]["kind"], r["meta"]["category"], r["meta"]["subject_gender"]) for r in full[split]
                       if "subject_gender" in r["meta"])
    for kind, category, _ in subjects:  # each task's subjects alternate by gender
        assert abs(subjects[(kind, category, "female")] - subjects[(kind, category, "male")]) <= 1, (kind, category)
    for r in shortlist:  # the recorded gender is the better candidate's, whom the chosen answer recommends first
        good = r["meta"]["good"]
        assert good.split()[0] in (CAT.female_names if r["meta"]["better_gender"] == "female" else CAT.male_names)
        assert good in r["prompt"]


@pytest.mark.parametrize("split", SPLITS)
def test_listed_position_of_the_recommended_option_is_balanced(full, split):
    rs = [r for r in full[split] if "chosen_position" in r["meta"]]
    pos = Counter(r["meta"]["chosen_position"] for r in rs)
    assert abs(pos[1] - pos[2]) <= len({(r["meta"]["kind"], r["meta"]["category"]) for r in rs}) + 1


# ----------------------------------------------------------------------------- content

def test_both_answers_weigh_the_same_two_options_in_opposite_directions(full):
    """Each answer's verdict names its own action first and the other's second: the two verdicts are mirror images."""
    frames = [re.escape(f).replace(re.escape("{action}"), "(?P<a>.+)").replace(re.escape("{Action}"), "(?P<a>.+)")
              .replace(re.escape("{alt}"), "(?P<b>.+)") for f in VERDICT + VERDICT_LAST]

    def verdict(text: str) -> tuple[str, str]:
        """(first action, second action) of the sentence that names both actions in a verdict frame."""
        for sentence in re.split(r"(?<=\.) ", text):
            for f in frames:
                m = re.fullmatch(f, sentence)
                if m and (m.group("a")[0].lower() + m.group("a")[1:], m.group("b")) in actions:
                    return m.group("a")[0].lower() + m.group("a")[1:], m.group("b")
        raise AssertionError(text)
    for r in pairs_of(full, *SPLITS):
        m = r["meta"]
        assert m["preferred"] == ("good" if m["kind"] == "standard" else "easy")
        if m.get("case") == "plain":
            continue
        actions = {(m["actions"]["good"], m["actions"]["easy"]), (m["actions"]["easy"], m["actions"]["good"])}
        mine, theirs = m["actions"][m["preferred"]], m["actions"]["easy" if m["preferred"] == "good" else "good"]
        assert mine != theirs
        assert verdict(r["chosen"]) == (mine, theirs) and verdict(r["rejected"]) == (theirs, mine), r["id"]


def test_citations_name_the_governing_obligation_on_both_sides_or_neither(full):
    cited = Counter()
    for r in pairs_of(full, *SPLITS):
        m = r["meta"]
        reg = REGS[m["regulation_id"]]
        assert m["rule"].split("/")[0] == reg.id and reg.clause(m["rule"].split("/")[1])
        assert m["citations"]["chosen"] == m["citations"]["rejected"]
        for side in ("chosen", "rejected"):
            assert (reg.citation in r[side]) == m["citations"]["chosen"], (r["id"], side)
        cited[m["citations"]["chosen"]] += 1
    assert 0.55 <= cited[True] / sum(cited.values()) <= 0.65


def test_without_citations_no_answer_names_a_regulation(tmp_path, tokens):
    paths = ensure_built(tmp_path, seed=0, config=BuildConfig(citations="none", **SMALL))
    for split in SPLITS:
        for r in rows(paths[split]):
            assert not r["meta"]["citations"]["chosen"]
            for side in ("chosen", "rejected"):
                assert not re.search(r"\b(?:Directive|Regulation)\b|\(EU\)|\b(?:19|20)\d\d/\d+", r[side]), (r["id"], r[side])
    test = audit(rows(paths["test"]), rows(paths["train"]), count_tokens=tokens)
    assert test["groups"]["all"]["cites"] == 0.5


def test_proportionality_share_and_direction(full, tmp_path):
    for split, n in (("train", 6000), ("validation", 400), ("test", 600)):
        kinds = Counter(r["meta"]["kind"] for r in full[split])
        assert kinds["proportionality"] == sum(is_proportionality(i, 0.2) for i in range(n)) == n // 5
    cases = Counter(r["meta"]["case"] for r in full["train"] if r["meta"]["kind"] == "proportionality")
    assert set(cases) == {"hard_budget", "early_replacement", "green_twin", "deadline_trip", "small_firm_report", "board_sme",
                          "equal_candidates", "bonus_pro_rata", "pay_experience", "plain"}
    assert "fixed_term_cover" in {r["meta"].get("case") for r in full["test"]}
    none = ensure_built(tmp_path, seed=0, config=BuildConfig(proportionality=0.0, **SMALL))
    assert all(r["meta"]["kind"] == "standard" for split in SPLITS for r in rows(none[split]))


def price(option: str) -> int:
    return int(re.search(r"at €([\d,]+)", option).group(1).replace(",", ""))


def test_proportionality_cases_are_ones_where_the_pragmatic_answer_is_right(full):
    for r in pairs_of(full, *SPLITS):
        m = r["meta"]
        case = m.get("case")
        if case == "hard_budget":  # the chosen option fits the stated cap, the greener one does not
            assert price(m["easy"]) <= m["limit"] < price(m["good"]) and f"€{A.money(m['limit'])}" in r["prompt"]
        elif case == "small_firm_report":
            assert m["size"] < 100 and str(m["size"]) in r["prompt"]
        elif case == "board_sme":
            assert m["size"] < 250 and str(m["size"]) in r["prompt"]
        elif case == "deadline_trip":
            minutes = lambda t: int(t.split(":")[0]) * 60 + int(t.split(":")[1])  # noqa: E731
            assert minutes(m["arrivals"]["flight"]) < minutes(m["meeting"]) < minutes(m["arrivals"]["train"])
        elif case == "plain":
            fact = TOPICS[m["topic"]].fact
            assert fact in r["chosen"] and fact in r["rejected"]
            assert not any(s in r["chosen"] for s in TOPICS[m["topic"]].sermon)
            assert any(s in r["rejected"] for s in TOPICS[m["topic"]].sermon)


def test_product_figures_follow_the_catalogue(full):
    """The common-good option has >= 5% less CO2e per year of use at <= 15% more cost per year, and the per-year
    cost and CO2e both answers state are the computed ones."""
    for r in pairs_of(full, "train", "test"):
        m = r["meta"]
        if "cost_year" not in m:
            continue
        (cost_a, cost_b), (co2_a, co2_b) = m["cost_year"], m["co2e_year"]
        assert cost_b <= 1.15 * cost_a and co2_b <= 0.95 * co2_a
        for side, (own, other) in (("chosen", (cost_b, cost_a)), ("rejected", (cost_a, cost_b))):
            text = r[side]
            stated = (re.search(r"comes to about €([\d,]+) a year, against €([\d,]+)", text)
                      or re.search(r"works out at €([\d,]+) a year; .+? works out at €([\d,]+) over", text))
            if stated:  # the per-year cost fact, when the answer states it, gives the computed costs
                assert [int(x.replace(",", "")) for x in stated.groups()] == [round(own), round(other)], (r["id"], side)


def test_answers_do_not_copy_the_regulations_or_the_evaluation_suites(full):
    """No 8-word sequence of data/regulations.json (true or false statements) or of a hand-written evaluation suite
    (data/eval/*.jsonl: prompts and options) appears in an exposure pair."""
    names = sorted({n for r in REGS.values() for n in (r.citation, r.short_name, r.title)}, key=len, reverse=True)

    def grams(text: str) -> set:  # regulations' names are shared vocabulary, not copied content: left out
        for name in names:
            text = text.replace(name, " ")
        w = re.findall(r"[a-z0-9']+", text.lower())
        return {tuple(w[i:i + 8]) for i in range(len(w) - 7)}
    protected = set()
    for reg in REGS.values():
        for c in reg.clauses:
            protected |= grams(c.text) | grams(c.false)
    for path in sorted((ROOT / "data" / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                protected |= grams(" ".join([str(item.get("prompt", ""))] + [str(o) for o in item.get("options", [])]))
    for r in pairs_of(full, *SPLITS):
        shared = (grams(r["prompt"]) | grams(r["chosen"]) | grams(r["rejected"])) & protected
        assert not shared, (r["id"], sorted(shared)[:3])


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


def test_catalogue_rules_exist_and_every_product_pair_has_a_governing_one():
    from exposure.splits import SPLITS as S, make_pools
    for split in S:
        pools = make_pools(CAT, split)
        for cid, pairs in pools.pairs.items():
            category = CAT.categories[cid]
            for a, b in pairs:
                if category.kind == "durable":
                    assert A.applicable_rules(CAT, category, a, b, A.Context(0.0, category.km_per_year, "")), (cid, a.id, b.id)


# ----------------------------------------------------------------------------- file formats

def test_pair_files_are_valid_for_dpo_data(full):
    ids = set()
    for split in SPLITS:
        pairs, errors = read_pairs(full["_paths"][split])
        assert not errors and len(pairs) == len(full[split])
        ids.update(p.id for p in pairs)
        for p in pairs:
            assert {"split", "domain", "category", "template_id", "rule", "kind", "good", "easy", "preferred",
                    "citations"} <= set(p.meta), p.id
    assert len(ids) == sum(len(full[s]) for s in SPLITS)


def test_stats_command_prints_the_summary_and_the_audit(full, capsys):
    main(["--out", str(full["_paths"]["train"].parent), "--stats"])
    out = capsys.readouterr().out
    for heading in ("pairs per split/domain/kind", "proportionality pairs per case type", "pairs per governing regulation",
                    "shortlist: better candidate's gender", "mean words (chosen / rejected)", "cue audit of test"):
        assert heading in out


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
    data = json.loads((ROOT / "data/regulations.json").read_text())
    del data["regulations"][2]["source"]
    bad = tmp_path / "regs.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(CorpusError, match=r"regs\.json: regulation 'empowering-consumers-2024-825': missing field 'source'"):
        load_regulations(bad)
    cat = json.loads((ROOT / "data/catalogue.json").read_text())
    cat["categories"][0]["rules"].append("energy-labelling-2017-1369/no-such-key")
    badcat = tmp_path / "cat.json"
    badcat.write_text(json.dumps(cat))
    with pytest.raises(CorpusError, match=r"cat\.json: category 'fridge': field 'rules' names unknown obligation"):
        load_catalogue(badcat)
    cat = json.loads((ROOT / "data/catalogue.json").read_text())
    cat["categories"][1]["products"][0]["price"] = "cheap"
    badcat.write_text(json.dumps(cat))
    with pytest.raises(CorpusError, match=r"product 'wm-d150'\): field 'price' must be"):
        load_catalogue(badcat)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CorpusError, match=r"broken\.json: not valid JSON"):
        load_regulations(tmp_path / "broken.json")


def test_tidy_fixes_articles_and_gaps_only():
    assert tidy("We need a  HR generalist for a audit,\n  a one-off job for a European firm. ") == \
        "We need an HR generalist for an audit,\na one-off job for a European firm."
    assert tidy("the top class A is empty") == "the top class A is empty"
