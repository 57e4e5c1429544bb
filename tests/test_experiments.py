import json
import os
from pathlib import Path

import pytest

from experiments import run as runner

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples" / "pairs.jsonl"


def write_experiment(path: Path, beta: float = 0.1) -> Path:
    path.write_text(
        "from dataclasses import replace\nfrom dpo.config import TrainConfig\n"
        f"base = TrainConfig(model='tiny-random', data=[{str(EXAMPLES)!r}], precision='fp32', max_steps=2,\n"
        f"                   max_length=256, max_prompt_length=128, beta={beta}, cache_dir={str(path.parent / 'cache')!r})\n"
        "runs = {'a': base, 'b': replace(base, lora_r=4)}\n")
    return path


def test_runner_trains_each_run_once_and_refuses_changed_settings(tmp_path):
    exp = write_experiment(tmp_path / "tiny_ablation.py")
    results = tmp_path / "results"
    runner.main([str(exp), "--results", str(results), "--no-eval"])
    adapters = [results / "tiny_ablation" / name / "adapter" / "adapter_model.safetensors" for name in ("a", "b")]
    assert all(a.exists() for a in adapters)
    stamps = [os.stat(a).st_mtime_ns for a in adapters]
    runner.main([str(exp), "--results", str(results), "--no-eval", "--only", "b"])
    assert [os.stat(a).st_mtime_ns for a in adapters] == stamps  # finished runs are not trained again
    (results / "tiny_ablation" / "a" / "adapter").rename(results / "tiny_ablation" / "a" / "adapter-old")
    write_experiment(exp, beta=0.3)
    with pytest.raises(SystemExit, match=r"\[a\].*other settings \(beta\)"):
        runner.main([str(exp), "--results", str(results), "--no-eval"])


def test_runner_unknown_run_name(tmp_path):
    exp = write_experiment(tmp_path / "x.py")
    with pytest.raises(SystemExit, match="no run named zzz"):
        runner.main([str(exp), "--results", str(tmp_path / "r"), "--no-eval", "--only", "zzz"])


def test_runner_resume_allows_the_same_free_settings_as_the_cli(tmp_path):
    exp = write_experiment(tmp_path / "free.py")
    results = tmp_path / "results"
    runner.main([str(exp), "--results", str(results), "--no-eval", "--only", "a"])
    run_dir = results / "free" / "a"
    (run_dir / "adapter").rename(run_dir / "adapter-old")  # stands in for a run stopped before its end
    exp.write_text(exp.read_text().replace("runs = {", "base = replace(base, wandb_project='other')\nruns = {"))
    runner.main([str(exp), "--results", str(results), "--no-eval", "--only", "a"])
    assert (run_dir / "adapter" / "adapter_model.safetensors").exists()
    assert len(json.loads((run_dir / "config.json").read_text())["resumes"]) == 1
