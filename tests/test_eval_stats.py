"""Statistics (clustered bootstrap, paired comparisons, McNemar, seeds), the metrics on known values, cue rules,
and the grouping of runs over seeds."""
import json
import math

import numpy as np
import pytest

from eval.aggregate import aggregate, group_label, groups
from eval.cues import cue_scores, names_rule, sentences
from eval.metrics import METRIC_BY_KEY, logit
from eval.report import against_cue_table
from eval.stats import cluster_members, compare, estimate, mcnemar, mean_ci, mean_stat, resample_weights, resampled_stats
from eval.suites import Item


def test_clustered_interval_is_wider_than_iid_for_duplicated_units():
    rng = np.random.default_rng(0)
    base = (rng.random(30) < 0.6).astype(float)
    values = np.repeat(base, 4)  # every situation written four times: 120 items, 30 independent ones
    clusters = np.repeat(np.arange(30), 4)
    iid, clustered = mean_ci(values), mean_ci(values, clusters)
    assert iid.value == clustered.value == pytest.approx(base.mean())
    assert (clustered.hi - clustered.lo) > 1.6 * (iid.hi - iid.lo)  # about 2x: sqrt(4)
    assert clustered.clusters == 30 and iid.clusters == 120 and mean_ci(values, clusters) == clustered  # seeded


def test_interval_over_seeds_and_items():
    rng = np.random.default_rng(1)
    one = estimate(rng.random((1, 200)))
    varied = estimate(rng.random((1, 200)) + np.array([[0.0], [0.3], [-0.3]]))  # 3 seeds far apart
    assert varied.seeds == 3 and varied.n == 200 and (varied.hi - varied.lo) > 3 * (one.hi - one.lo)
    with pytest.raises(ValueError, match="S runs, n units"):
        estimate(np.zeros(5))
    assert math.isnan(estimate(np.zeros((1, 0))).value)
    lonely = estimate(np.array([[1.0, 0.0, 1.0]]), ["one"] * 3)  # one situation: a value, no interval
    assert lonely.value == pytest.approx(2 / 3) and math.isnan(lonely.lo) and lonely.clusters == 1


def test_resamples_draw_whole_clusters_and_the_weighted_mean_equals_the_mean_of_the_repeated_units():
    rng = np.random.default_rng(2)
    clusters = rng.integers(0, 12, 50)
    members = cluster_members(clusters)
    unit_w, (seed_w, single) = resample_weights(members, [3, 1], np.random.default_rng(0), 200)
    assert unit_w.shape == (200, 50) and seed_w.shape == (200, 3) and (single == 1).all()
    assert (unit_w.sum(1) > 0).all() and (seed_w.sum(1) == 3).all()
    for m in members:  # the units of one cluster are always drawn together, as often as their cluster
        assert (unit_w[:, m] == unit_w[:, m[:1]]).all()
    assert (np.bincount(unit_w[:, members[0][0]], minlength=4)[:2] > 0).all()  # a cluster drawn 0, 1, ... times
    values = rng.random((3, 50))
    fast = resampled_stats(values, unit_w, seed_w, mean_stat)
    slow = resampled_stats(values, unit_w, seed_w, lambda v: float(np.mean(v)))  # each resample's units repeated
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    assert fast.std() > 0


def test_mcnemar_exact_values():
    # 6 discordant items, 5 for a: p = 2 * (C(6,0) + C(6,1)) / 2^6 = 14 / 64
    a = [1, 1, 1, 1, 1, 0, 1, 0]
    b = [0, 0, 0, 0, 0, 1, 1, 0]
    p, rw, wr = mcnemar(a, b)
    assert (rw, wr) == (5, 1) and p == pytest.approx(14 / 64)
    assert mcnemar([1, 0], [1, 0])[0] == 1.0


def test_paired_comparison_detects_a_real_difference_and_not_noise():
    rng = np.random.default_rng(2)
    b = (rng.random(200) < 0.5).astype(float)
    a = b.copy()
    a[rng.choice(np.flatnonzero(b == 0), 40, replace=False)] = 1  # a fixes 40 of b's errors
    clusters = np.arange(200) // 2
    better = compare(a[None], b[None], clusters)
    assert better.diff.value == pytest.approx(0.2) and better.diff.lo > 0 and better.p_bootstrap < 0.01
    assert better.discordant == (40, 0) and better.p_mcnemar < 1e-6
    same = compare(b[None], b[None], clusters)
    assert same.diff.value == 0 and same.p_bootstrap == 1.0 and same.p_mcnemar == 1.0
    lonely = compare(np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]]), ["one", "one"])
    assert math.isnan(lonely.p_bootstrap)  # one cluster: no test
    seeds = compare(np.stack([a, a]), b[None], clusters)
    assert seeds.p_mcnemar is None and seeds.diff.seeds == 2


def test_decision_gap_on_known_probabilities():
    """Two groups: gap = |mean over pairs of logit(p_f) - logit(p_m)| (centring halves each group's share)."""
    recs = []
    for k, (pf, pm) in enumerate([(0.8, 0.5), (0.6, 0.6), (0.3, 0.2)]):
        for g, p in (("female", pf), ("male", pm)):
            recs.append({"key": f"s/d{k}{g}", "kind": "decision", "suite": "s", "pair": f"p{k}", "group": g,
                         "cluster": f"s/p{k}", "p_yes": p})
    metric = METRIC_BY_KEY["decision_gap"]
    ids, clusters, v = metric.units(recs)
    assert v.shape == (3, 2) and ids == ["s/p0", "s/p1", "s/p2"]
    expected = abs(np.mean([logit(0.8) - logit(0.5), 0.0, logit(0.3) - logit(0.2)]))
    assert metric.stat(v[None]) == pytest.approx(expected)
    gap = METRIC_BY_KEY["bias_pair_gap"]
    bias = [dict(r, kind="bias", p=r["p_yes"]) for r in recs]
    assert gap.stat(gap.units(bias)[2][None]) == pytest.approx((0.3 + 0.0 + 0.1) / 3)


def item(id, options, answer, kind="compliance"):
    return Item(id=id, kind=kind, domain="d", prompt="p", options=options, answer=answer, suite="s")


def test_cue_rules_score_picks_and_ties():
    items = [item("a", ["Short one.", "A much longer option with more words in it."], 1),
             item("b", ["One. Two. Three.", "Just one sentence here, no more."], 0),
             item("c", ["Under the Ecodesign Regulation you must.", "Under Directive 2024/1799 you may."], 0),
             item("d", ["It costs 120 euros.", "It costs little."], 1)]
    scores = cue_scores(items, lambda text: len(text.split()))
    assert scores["longer"]["s/a"] == 1.0 and scores["fewer_sentences"]["s/b"] == 0.0
    assert scores["names_rule"]["s/c"] == 0.5 and scores["names_rule"]["s/a"] == 0.5  # both / neither: a tie
    assert scores["more_digits"]["s/d"] == 0.0
    assert names_rule("the Pay Transparency Directive") and names_rule("under 2023/970") and not names_rule("act now")
    assert sentences("Yes. No! Maybe? ") == 3


def run_folder(tmp_path, name, seed, lr=5e-4):
    folder = tmp_path / name / "adapter"
    folder.mkdir(parents=True)
    (tmp_path / name / "config.json").write_text(json.dumps({"config": {"seed": seed, "lr": lr, "out": str(tmp_path / name)}}))
    return str(folder)


def records(correct, kind="compliance"):
    return [{"key": f"s/i{k}", "kind": kind, "suite": "s", "cluster": f"s/c{k // 2}", "correct": c, "held_out": False,
             "control": None, "seen": None} for k, c in enumerate(correct)]


def test_runs_differing_only_in_seed_form_one_row(tmp_path):
    models = {"base": {"adapter": None, "records": records([0, 0, 1, 0, 1, 0, 0, 1])},
              "exp-seed0": {"adapter": run_folder(tmp_path, "exp-seed0", 0), "records": records([1, 1, 1, 0, 1, 1, 1, 1])},
              "exp-seed1": {"adapter": run_folder(tmp_path, "exp-seed1", 1), "records": records([1, 1, 1, 1, 1, 0, 1, 1])},
              "other": {"adapter": run_folder(tmp_path, "other", 0, lr=1e-3), "records": records([0, 1, 1, 0, 1, 0, 0, 1])}}
    assert groups(models) == {"base": ["base"], "exp (2 seeds)": ["exp-seed0", "exp-seed1"], "other": ["other"]}
    assert group_label(["a-seed0", "a-seed1", "a-seed2"]) == "a (3 seeds)"
    out = aggregate(models, {"longer": {f"s/i{k}": float(k % 2) for k in range(8)}})
    exp = out["groups"]["exp (2 seeds)"]["metrics"]["compliance"]
    assert exp["value"] == pytest.approx(14 / 16) and exp["seeds"] == 2 and exp["clusters"] == 4
    assert out["vs_base"]["exp (2 seeds)"]["compliance"]["diff"]["value"] == pytest.approx(14 / 16 - 3 / 8)
    assert out["vs_base"]["other"]["compliance"]["p_mcnemar"] is not None
    assert set(out["between"]) == {"exp (2 seeds) vs other"}
    assert out["cue_controls"]["longer"]["compliance"]["value"] == 0.5


def test_cue_audit_classifier_as_a_control():
    pytest.importorskip("sklearn")
    pytest.importorskip("exposure.audit")
    from dpo.data import PreferencePair
    from eval.cues import classifier_scores
    train = [PreferencePair(f"q{k}", f"You must keep the {w} because of the rule.", f"Just buy the cheap {w} today.")
             for k, w in enumerate(["lamp", "boiler", "tyre", "phone", "fridge", "car", "sofa", "kettle"])]
    items = [item("a", ["Honestly, buy the cheap heater today.", "You must keep the heater because of the rule."], 1),
             item("b", ["You must keep the oven because of the rule.", "Just buy the cheap oven today."], 0)]
    scores = classifier_scores(items, {"toy": train})
    assert set(scores) == {"bow_all (toy)", "bow_function_words (toy)"}
    assert scores["bow_all (toy)"] == {"s/a": 1.0, "s/b": 1.0}


def test_against_the_cue_compares_on_the_items_the_classifier_gets_wrong():
    """A tuned model right everywhere the cue is right and wrong where it is wrong gains nothing against the cue;
    the other model, right on the cue-wrong items too, gains exactly there. Only classifier ('bow') rules count."""
    base = [0, 0, 0, 0, 0, 0, 0, 0]
    cue = {f"s/i{k}": float(k < 5) for k in range(8)}  # the cue picks the right option on items 0-4, not 5-7
    models = {"base": {"adapter": None, "records": records(base)},  # tuned runs: an adapter without a run folder
              "follows-cue": {"adapter": "x", "records": records([1, 1, 1, 1, 1, 0, 0, 0])},
              "argues": {"adapter": "x", "records": records([1, 1, 0, 0, 0, 1, 1, 0])}}
    out = aggregate(models, {"bow_function_words (toy)": cue, "longer": cue})
    assert set(out["against_cue"]) == {"bow_function_words (toy)"}
    against = out["against_cue"]["bow_function_words (toy)"]
    assert against["follows-cue"]["compliance"]["diff"]["value"] == 0.0
    assert against["argues"]["compliance"]["diff"]["value"] == pytest.approx(2 / 3)
    assert against["argues"]["compliance"]["diff"]["n"] == 3
    assert out["vs_base"]["follows-cue"]["compliance"]["diff"]["value"] == pytest.approx(5 / 8)
    table = against_cue_table(out)
    assert "| bow function words (toy) | Δ argues − base | +0.667" in table and "n=3" in table
