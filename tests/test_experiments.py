import json
import shutil
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dpo.config import load_experiment
from dpo.tracking import MetricsLog
from experiments import spec
from experiments import run as runner

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "data" / "examples" / "pairs.jsonl"
SUITES = sorted(p for p in (REPO / "tests" / "fixtures" / "eval").glob("*.jsonl") if p.name != "open.jsonl")


def write_experiment(path: Path, runs: str = "{'a': base, 'b': replace(base, lora_r=4)}", **base_changes) -> Path:
    """A tiny-model experiment file (2 steps a run) evaluated on the fixture suites."""
    settings = dict(model="tiny-random", data=[str(EXAMPLES)], precision="fp32", max_steps=2, max_length=256,
                    max_prompt_length=128, cache_dir=str(path.parent / "cache"), **base_changes)
    evaluation = dict(suites=[str(p) for p in SUITES], test_pairs=[f"examples={EXAMPLES}"], precision="fp32", limit=0)
    path.write_text("from dataclasses import replace\nfrom dpo.config import TrainConfig\n"
                    "from experiments.spec import Unavailable\n"
                    f"base = TrainConfig(**{settings!r})\nruns = {runs}\nevaluation = {evaluation!r}\n")
    return path


def adapter(run_dir: Path) -> dict:
    return load_file(run_dir / "adapter" / "adapter_model.safetensors")


def test_two_runs_end_to_end_then_skipped_then_only_the_changed_run_again(tmp_path, monkeypatch, capsys):
    from experiments import evaluation
    exp, results = write_experiment(tmp_path / "tiny.py"), tmp_path / "results"
    root = results / "tiny"
    runner.main([str(exp), "--results", str(results)])
    for name in ("a", "b"):
        assert (root / name / "adapter" / "adapter_model.safetensors").is_file()
        assert (root / "evaluations" / f"{name}.json").is_file()
    report = (root / "report.md").read_text()
    assert "# Experiment `tiny`" in report and "| a | (the base) | finished | 2 |" in report and "| b | lora_r=4 |" in report
    assert "| Δ a − base |" in report and "| Δ b − base |" in report
    saved = json.loads((root / "results.json").read_text())
    assert list(saved["models"]) == ["base", "a", "b"] and saved["experiment"]["runs"]["b"]["status"] == "finished"
    assert saved["groups"]["a"]["metrics"]["compliance"]["n"] == 4
    assert (root / "comparison.png").is_file() and (root / "curves.png").is_file()
    first = {name: adapter(root / name) for name in ("a", "b")}

    def refuse(*a, **k):
        raise AssertionError("an unchanged run was trained or evaluated again")
    monkeypatch.setattr(runner.strategies, "train_one", refuse)
    monkeypatch.setattr(evaluation, "run", refuse)
    capsys.readouterr()
    runner.main([str(exp), "--results", str(results)])  # nothing changed: nothing is trained or evaluated
    assert "| Δ b − base |" in capsys.readouterr().out
    moved = tmp_path / "moved"  # as a committed results folder in another checkout
    shutil.copytree(results, moved, ignore=shutil.ignore_patterns("checkpoints"))
    runner.main([str(exp), "--results", str(moved)])
    assert "| Δ b − base |" in capsys.readouterr().out
    monkeypatch.undo()

    base_file = root / "evaluations" / "base.json"
    base_entry = json.loads(base_file.read_text())
    kept = base_entry["model"].pop("pair_logps")  # the base's log-probs of the test pairs, the adapters' reference
    assert list(kept) == ["examples"] and len(kept["examples"]) == saved["models"]["a"]["heldout"]["examples"]["pairs"] > 0
    assert "test pairs reference" not in json.loads((root / "evaluations" / "b.json").read_text())["model"]["stage_seconds"]
    base_file.write_text(json.dumps(base_entry))  # as a base evaluated before they were kept

    scored = []
    real_run = evaluation.run
    monkeypatch.setattr(evaluation, "run", lambda cfg, **kw: scored.append(cfg.adapters) or real_run(cfg, **kw))
    write_experiment(exp, runs="{'a': base, 'b': replace(base, lora_r=4, beta=0.3)}")
    runner.main([str(exp), "--results", str(results), "--dry-run"])
    assert "the base and 2 runs, 1 to evaluate" in capsys.readouterr().out  # b, not the cached base
    runner.main([str(exp), "--results", str(results)])
    assert scored == [[str(root / "b")]]  # only the changed run scored again
    assert "evaluated b (the others from the cache)" in capsys.readouterr().err  # the base only gained its log-probs
    assert [p.name.split("-")[0] for p in (root / "stale").iterdir()] == ["b"]  # its old folder kept aside
    assert all(torch.equal(first["a"][k], v) for k, v in adapter(root / "a").items())
    assert json.loads((root / "b" / "config.json").read_text())["config"]["beta"] == 0.3
    stages = json.loads((root / "evaluations" / "b.json").read_text())["model"]["stage_seconds"]
    assert "test pairs reference" in stages  # scored under the adapter's disabled LoRA, then kept with the base:
    again = json.loads(base_file.read_text())["model"]["pair_logps"]["examples"]
    assert [x for row in again for x in row] == pytest.approx([x for row in kept["examples"] for x in row], rel=1e-6)


def test_a_cached_evaluation_key_does_not_depend_on_where_the_checkout_is(tmp_path, monkeypatch):
    from experiments import evaluation
    digests = []
    for checkout in ("one", "two"):
        suite = tmp_path / checkout / "data" / "eval" / "suite.jsonl"
        suite.parent.mkdir(parents=True)
        suite.write_text('{"id": "x"}\n')
        monkeypatch.setattr(evaluation, "ROOT", tmp_path / checkout)
        digests.append(evaluation.files_digest([suite]))
    assert digests[0] == digests[1] and list(digests[0]) == ["data/eval/suite.jsonl"]
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("{}\n")
    assert list(evaluation.files_digest([outside])) == [str(outside)]


def test_a_pair_set_rebuilt_into_another_folder_with_the_same_bytes_keeps_the_evaluation_key(tmp_path, monkeypatch):
    from eval.pipeline import EvalConfig
    from experiments import evaluation
    cfg = EvalConfig(suites=[str(p) for p in SUITES], training_data=True)
    folders = {}
    for build in ("first", "rebuilt", "changed"):
        folder = tmp_path / build
        folder.mkdir()
        for split in ("train", "test"):
            (folder / f"{split}.jsonl").write_text(EXAMPLES.read_text() + ("\n" if build == "changed" else ""))
        folders[build] = folder
    keys = {}
    for build, folder in folders.items():
        monkeypatch.setattr(evaluation, "project_pair_sets", lambda split, f=folder: {"legends": f / f"{split}.jsonl"})
        keys[build] = evaluation.model_key(evaluation.settings_key(cfg), None)
    assert keys["first"] == keys["rebuilt"] != keys["changed"]  # the builder's folder name is not the data


def test_an_interrupted_evaluation_keeps_every_model_it_finished(tmp_path, monkeypatch):
    from eval import pipeline
    exp, results = write_experiment(tmp_path / "tiny.py"), tmp_path / "results"
    root = results / "tiny"
    runner.main([str(exp), "--results", str(results), "--no-eval"])
    real, scored = pipeline.evaluate_model, []

    def ctrl_c_at_b(*args, adapter=None, **kwargs):
        if adapter is not None and adapter.parent.name == "b":
            raise KeyboardInterrupt
        scored.append(adapter and adapter.parent.name)
        return real(*args, adapter=adapter, **kwargs)
    monkeypatch.setattr(pipeline, "evaluate_model", ctrl_c_at_b)
    with pytest.raises(KeyboardInterrupt):
        runner.main([str(exp), "--results", str(results)])
    assert scored == [None, "a"] and sorted(p.stem for p in (root / "evaluations").glob("*.json")) == ["a", "base"]
    monkeypatch.setattr(pipeline, "evaluate_model", lambda *a, adapter=None, **k: scored.append(adapter.parent.name)
                        or real(*a, adapter=adapter, **k))
    runner.main([str(exp), "--results", str(results)])
    assert scored == [None, "a", "b"]  # the rerun scores only the model the interruption lost
    saved = json.loads((root / "results.json").read_text())
    assert list(saved["models"]) == ["base", "a", "b"] and "cue_scores" in saved and "| Δ b − base |" in (root / "report.md").read_text()


def test_interrupted_run_resumes_to_the_adapter_of_an_uninterrupted_one(tmp_path, monkeypatch, capsys):
    exp = write_experiment(tmp_path / "tiny.py", runs="{'a': replace(base, max_steps=4, save_every=1)}")
    runner.main([str(exp), "--results", str(tmp_path / "straight"), "--no-eval"])
    real_log = MetricsLog.log

    def ctrl_c_at_step_2(self, metrics, step):
        real_log(self, metrics, step)
        if step == 2:
            signal.raise_signal(signal.SIGINT)  # the trainer finishes and saves this step, then stops
    monkeypatch.setattr(MetricsLog, "log", ctrl_c_at_step_2)
    with pytest.raises(SystemExit, match=r"\[a\] interrupted: run the same command again to resume"):
        runner.main([str(exp), "--results", str(tmp_path / "r"), "--no-eval"])
    monkeypatch.undo()
    capsys.readouterr()
    runner.main([str(exp), "--results", str(tmp_path / "r"), "--no-eval", "--dry-run"])
    assert "resume" in capsys.readouterr().out.split("\n  a ")[1].split("\n")[0]
    runner.main([str(exp), "--results", str(tmp_path / "r"), "--no-eval"])
    run_dir = tmp_path / "r" / "tiny" / "a"
    assert len(json.loads((run_dir / "config.json").read_text())["resumes"]) == 1
    straight, resumed = adapter(tmp_path / "straight" / "tiny" / "a"), adapter(run_dir)
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_dry_run_plan_statuses_estimates_and_unavailable_runs(tmp_path, capsys):
    runs = "{'a': base, 'b': replace(base, beta=0.5), 'rl': Unavailable('algo ppo not installed')}"
    exp, results = write_experiment(tmp_path / "tiny.py", runs=runs), tmp_path / "results"
    runner.main([str(exp), "--results", str(results), "--only", "a", "--no-eval"])
    capsys.readouterr()
    runner.main([str(exp), "--results", str(results), "--dry-run", "--lr", "0.001"])
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and len(line.split()) > 1}
    assert "stale" in lines["a"] and "lr: 0.0005 -> 0.001" in lines["a"]  # a flag overrides every run
    assert "new" in lines["b"] and "beta=0.5" in lines["b"] and " s " in lines["b"] + " "
    assert "unavailable" in lines["rl"] and "algo ppo not installed" in lines["rl"]
    assert "measured" in out  # s/step from run a's metrics
    assert "to evaluate" in out and "on a GPU: python -m experiments.run" in out and "--device cuda" in out
    assert not (results / "tiny" / "b").exists()  # a dry run trains nothing


def test_spec_refuses_bad_files(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dpo.config import TrainConfig\nruns = {'a': TrainConfig(), 'b': {'beta': 0.2}}\n")
    with pytest.raises(ValueError, match="run 'b' is a dict, not a TrainConfig"):
        spec.load(bad)
    bad.write_text("from dpo.config import TrainConfig\nfrom experiments.spec import run_folder\n"
                   "runs = {'a': TrainConfig(legends_source=run_folder('b')), 'b': TrainConfig()}\n")
    with pytest.raises(ValueError, match="legends_source=run:b names no earlier run"):
        spec.load(bad)
    missing = spec.variant(spec.TrainConfig(), algo="no-such-algo", beta=0.3)
    assert missing.reason == "algo no-such-algo not installed" and missing.like.beta == 0.3
    with pytest.raises(SystemExit, match="no run named zzz"):
        runner.main([str(write_experiment(tmp_path / "x.py")), "--results", str(tmp_path / "r"), "--only", "zzz"])


@pytest.mark.parametrize("name", ["strategies", "beta", "losses", "legends_source", "data_size", "lora_rank", "citations",
                                  "recipe"])
def test_shipped_experiments_load(name):
    exp = spec.load(REPO / "experiments" / f"{name}.py")
    assert exp.runs and all(isinstance(r, (spec.TrainConfig, spec.Unavailable)) for r in exp.runs.values())
    seeds = {r.seed for r in exp.runs.values() if isinstance(r, spec.TrainConfig)}
    assert len(seeds) >= (3 if name == "strategies" else 1)
    first = next(n for n, r in exp.runs.items() if isinstance(r, spec.TrainConfig))
    assert load_experiment(f"{REPO / 'experiments' / name}.py:{first}") == {first: exp.runs[first]}  # train.py --config


def test_generated_legends_runs_wait_for_the_legends(tmp_path, monkeypatch):
    import strategies
    from dpo.config import TrainConfig
    cfg = TrainConfig(strategy="legends", legends_source="generated")
    monkeypatch.setattr(strategies, "GENERATED_LEGENDS", tmp_path / "legends.jsonl")
    missing = spec.with_generated_legends(cfg, 3)
    assert isinstance(missing, spec.Unavailable) and missing.reason.startswith("0 of 3 generated legends")
    (tmp_path / "legends.jsonl").write_text('{"id": 1}\n{"id": 2}\n\n')
    assert isinstance(spec.with_generated_legends(cfg, 3), spec.Unavailable)
    (tmp_path / "legends.jsonl").write_text('{"id": 1}\n{"id": 2}\n{"id": 3}\n')
    assert spec.with_generated_legends(cfg, 3) is cfg
