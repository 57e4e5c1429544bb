"""metrics.jsonl and the training curves drawn from it."""
from pathlib import Path

import pytest

from dpo.config import TrainConfig
from dpo.run import run_training
from dpo.tracking import PANELS, MetricsLog, curves_figure, main

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples" / "pairs.jsonl"
PNG = b"\x89PNG\r\n\x1a\n"


def fake_run(run_dir: Path, steps: int = 6, eval_every: int = 3, shift: float = 0.0) -> Path:
    log = MetricsLog(run_dir)
    for step in range(1, steps + 1):
        metrics = {"loss": 0.7 - 0.1 * step + shift, "rewards/accuracies": step / steps, "rewards/margins": 0.2 * step,
                   "logps/chosen": -50.0 + step, "logps/rejected": -60.0 - step, "grad_norm": 1.0 / step,
                   "lr": 1e-3 * step, "tokens_per_second": 100.0}
        if step % eval_every == 0:
            metrics.update({f"eval/{k}": v + 0.05 for k, v in metrics.items() if k != "lr"})
        log.log(metrics, step)
    return run_dir


def lines_of(fig) -> dict[str, dict[str, tuple]]:
    """{panel title: {line label: (x, y)}}"""
    return {ax.get_title(): {line.get_label(): (tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.lines}
            for ax in fig.axes}


def test_curves_put_train_and_eval_of_each_group_on_the_same_axes(tmp_path):
    panels = lines_of(curves_figure([fake_run(tmp_path / "run")]))
    assert list(panels) == list(PANELS)
    loss = panels["loss"]
    assert set(loss) == {"train", "eval"}
    assert loss["train"][0] == (1, 2, 3, 4, 5, 6) and loss["eval"][0] == (3, 6)
    assert loss["eval"][1] == pytest.approx((0.7 - 0.3 + 0.05, 0.7 - 0.6 + 0.05))
    assert set(panels["reward accuracy and margin"]) == {"rewards/accuracies train", "rewards/accuracies eval",
                                                         "rewards/margins train", "rewards/margins eval"}
    assert set(panels["log-probs of chosen and rejected"]) == {"logps/chosen train", "logps/chosen eval",
                                                               "logps/rejected train", "logps/rejected eval"}
    assert set(panels["grad norm"]) == {"train", "eval"} and set(panels["learning rate"]) == {"train"}


def test_plot_command_compares_runs_and_names_a_folder_without_metrics(tmp_path, monkeypatch, capsys):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b", shift=0.3)
    main(["plot", str(a)])
    assert (a / "curves.png").read_bytes().startswith(PNG)
    main(["plot", str(a), str(b), "--out", str(tmp_path / "both.png")])
    assert (tmp_path / "both.png").read_bytes().startswith(PNG)
    loss = lines_of(curves_figure([a, b]))["loss"]
    assert set(loss) == {"a train", "a eval", "b train", "b eval"}  # runs named by folder
    assert loss["b train"][1] == pytest.approx([y + 0.3 for y in loss["a train"][1]])
    same_name = fake_run(tmp_path / "x" / "a")
    assert f"{same_name} train" in lines_of(curves_figure([a, same_name]))["loss"]  # then by path
    with pytest.raises(SystemExit, match=f"{tmp_path / 'empty'}: no metrics.jsonl"):
        main(["plot", str(a), str(tmp_path / "empty")])


def test_a_training_run_folder_holds_its_curves(tmp_path):
    cfg = TrainConfig(model="tiny-random", data=[str(EXAMPLES)], eval_data=[str(EXAMPLES)], max_eval_pairs=4,
                      batch_size=4, max_steps=2, eval_every=2, save_every=2, max_length=256, max_prompt_length=128,
                      lora_r=4, out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"))
    run_dir = run_training(cfg)
    assert (run_dir / "curves.png").read_bytes().startswith(PNG)
