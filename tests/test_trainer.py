"""The training loop on the tiny model: learning, resume, divergence, checkpointing, precisions, CLI errors."""
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import train
from dpo import run as run_module
from dpo import trainer as trainer_module
from dpo.config import TrainConfig, build_parser, config_from_args, load_experiment
from dpo.data import PreferencePair, Truncation, collate, read_pairs, tokenize_pairs
from dpo.logprobs import concatenated_forward
from dpo.lora import LoRAConfig, inject_lora
from dpo.run import run_training
from dpo.tracking import MetricsLog, read_metrics
from dpo.trainer import TrainingDiverged, warmup_cosine

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples" / "pairs.jsonl"


def tiny_config(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(model="tiny-random", data=[str(EXAMPLES)], eval_data=[str(EXAMPLES)], max_eval_pairs=4,
                precision="fp32", batch_size=4, lr=1e-2, warmup_steps=2, max_steps=6, eval_every=3,
                save_every=3, max_length=256, max_prompt_length=128, lora_r=4, lora_alpha=8,
                out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"))
    base.update(kw)
    return TrainConfig(**base)


def test_learns_small_pair_set(tmp_path):
    cfg = tiny_config(tmp_path, max_steps=20, lr=2e-2, beta=0.5, eval_every=20, save_every=20, max_eval_pairs=12,
                      lora_targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    run_dir = run_training(cfg)
    log = read_metrics(run_dir)
    assert [r["step"] for r in log] == list(range(1, 21))
    first, last = log[0], log[-1]
    assert last["loss"] < 0.5 * first["loss"]
    assert last["eval/rewards/accuracies"] == 1.0  # eval_data = all 12 training pairs here
    assert last["eval/loss"] < 0.2
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected",
                "grad_norm", "lr", "tokens_per_second", "eval/loss", "eval/rewards/margins"):
        assert key in last
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["config"]["beta"] == cfg.beta and saved["versions"]["torch"] == torch.__version__
    assert saved["data"]["train_pairs"] == 12 and len(saved["data"]["train_files"][0]["sha256"]) == 64
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    assert (run_dir / "adapter" / "adapter_model.safetensors").exists()


def test_resume_after_interrupt_is_bit_identical(tmp_path, monkeypatch):
    straight = run_training(tiny_config(tmp_path / "a", save_every=2))
    real_log = MetricsLog.log

    def interrupt_at_step_3(self, metrics, step):
        real_log(self, metrics, step)
        if step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricsLog, "log", interrupt_at_step_3)
    cfg = tiny_config(tmp_path / "b", save_every=2)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg)
    assert (Path(cfg.out) / "checkpoints" / "step-000003").exists()  # Ctrl-C saved the completed step
    monkeypatch.setattr(MetricsLog, "log", real_log)
    resumed = run_training(dataclasses.replace(cfg, resume=cfg.out))
    a = load_file(straight / "adapter" / "adapter_model.safetensors")
    b = load_file(resumed / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in read_metrics(resumed)] == list(range(1, 7))
    assert [r["loss"] for r in read_metrics(resumed)] == [r["loss"] for r in read_metrics(straight)]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = trainer_module.pair_loss
    calls = {"n": 0}

    def poisoned(model, batch, ref, cfg):
        loss, metrics = real(model, batch, ref, cfg)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 4 else loss), metrics

    monkeypatch.setattr(trainer_module, "pair_loss", poisoned)
    cfg = tiny_config(tmp_path, save_every=1, eval_every=100)
    with pytest.raises(TrainingDiverged, match=r"step 4: loss is nan.*step-000003"):
        run_training(cfg)
    ckpts = sorted(p.name for p in (Path(cfg.out) / "checkpoints").glob("step-*"))
    assert ckpts[-1] == "step-000003"


def test_gradient_checkpointing_gives_same_lora_gradients(tiny):
    model, tok = tiny
    pairs, _ = read_pairs(EXAMPLES)
    batch = collate(tokenize_pairs(tok, pairs[:4], Truncation(256, 128)).examples, tok.pad_token_id)
    inject_lora(model, LoRAConfig(r=4, alpha=8, targets=("q_proj", "v_proj")))
    with torch.no_grad():  # B = 0 at init would give A no gradient; make both matter
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    model.train()

    def grads():
        model.zero_grad(set_to_none=True)
        chosen, rejected = concatenated_forward(model, batch)
        (chosen.sum - rejected.sum).mean().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    plain = grads()
    run_module.enable_activation_checkpointing(model)
    checkpointed = grads()
    assert plain.keys() == checkpointed.keys() and len(plain) == 8
    for n in plain:
        assert checkpointed[n].abs().sum() > 0, f"{n} got no gradient under checkpointing"
        torch.testing.assert_close(checkpointed[n], plain[n], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_paths_train(tmp_path, precision):
    run_dir = run_training(tiny_config(tmp_path, precision=precision, max_steps=4, eval_every=4, save_every=4))
    log = read_metrics(run_dir)
    assert len(log) == 4 and all(r["loss"] is not None for r in log)
    blob = torch.load(run_dir / "checkpoints" / "step-000004" / "training_state.pt", weights_only=False)
    if precision == "fp16":
        assert blob["scaler"]["scale"] > 0  # the GradScaler is live and its state is checkpointed
    else:
        assert blob["scaler"] == {}  # a disabled scaler for bf16
    lora = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)  # the adapter moved from zero


def test_reference_free_loss_computes_no_reference(tmp_path, monkeypatch):
    def no_reference(*a, **k):
        raise AssertionError("a reference-free loss must not compute reference log-probs")

    monkeypatch.setattr(run_module, "reference_logps", no_reference)
    run_dir = run_training(tiny_config(tmp_path, loss="simpo", beta=2.0, max_steps=2))
    assert len(read_metrics(run_dir)) == 2


def test_reference_logps_cached_across_runs(tmp_path, monkeypatch):
    import dpo.reference as reference
    run_training(tiny_config(tmp_path, out=str(tmp_path / "r1"), max_steps=1))

    def no_recompute(*a, **k):
        raise AssertionError("the second run must take every reference log-prob from the cache")

    monkeypatch.setattr(reference, "compute_logps", no_recompute)
    run_training(tiny_config(tmp_path, out=str(tmp_path / "r2"), max_steps=1))
    with pytest.raises(AssertionError, match="from the cache"):  # other data: a new key, so a recompute
        run_training(tiny_config(tmp_path, out=str(tmp_path / "r3"), max_steps=1, max_length=200))


def test_bad_data_stops_before_training_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(EXAMPLES.read_text().splitlines()[0] + "\n" + '{"prompt": "p", "chosen": "c"}\n')
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as err:
        train.main(["--model", "tiny-random", "--data", str(bad), "--out", str(out), "--precision", "fp32"])
    assert f"{bad}:2: missing field 'rejected'" in str(err.value)
    assert not (out / "checkpoints").exists()


def test_skip_invalid_counts_and_trains(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(EXAMPLES.read_text() + "not json\n")
    run_dir = run_training(tiny_config(tmp_path, data=[str(bad)], skip_invalid=True, max_steps=1))
    assert json.loads((run_dir / "config.json").read_text())["data"]["invalid_skipped"] == 1


def test_existing_run_folder_is_not_overwritten(tmp_path):
    cfg = tiny_config(tmp_path, max_steps=1)
    run_training(cfg)
    with pytest.raises(FileExistsError, match="--resume"):
        run_training(cfg)


def test_experiment_file_then_flags_override(tmp_path):
    exp = tmp_path / "exp.py"
    exp.write_text("from dpo.config import TrainConfig\n"
                   "runs = {'low': TrainConfig(beta=0.05, loss='ipo'), 'high': TrainConfig(beta=0.5)}\n")
    assert set(load_experiment(str(exp))) == {"low", "high"}
    cfg = config_from_args(build_parser().parse_args(["--config", f"{exp}:low", "--lr", "0.001",
                                                      "--lora-targets", "q_proj,k_proj", "--no-wandb"]))
    assert (cfg.beta, cfg.loss, cfg.lr, cfg.lora_targets, cfg.wandb) == (0.05, "ipo", 0.001, ["q_proj", "k_proj"], False)
    with pytest.raises(ValueError, match="pick one"):
        config_from_args(build_parser().parse_args(["--config", str(exp)]))


def test_resume_refuses_changed_settings(tmp_path):
    cfg = tiny_config(tmp_path, max_steps=1)
    run_dir = run_training(cfg)
    args = build_parser().parse_args(["--resume", str(run_dir), "--beta", "0.9"])
    with pytest.raises(ValueError, match="beta"):
        config_from_args(args)
    assert config_from_args(build_parser().parse_args(["--resume", str(run_dir)])).beta == cfg.beta


def test_warmup_then_cosine_to_zero():
    f = warmup_cosine(4, 20)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == 1.0 and abs(f(12) - 0.5) < 1e-9 and f(20) == 0.0
    assert all(f(s) >= f(s + 1) for s in range(4, 20))


def test_wandb_offline_run_logs_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("COMMONGOOD_SECRET_TOKEN", "sk-do-not-log")
    run_dir = run_training(tiny_config(tmp_path, max_steps=2, wandb=True, wandb_project="cg-test"))
    import wandb
    wandb.teardown()  # wait for the background writer to flush the offline run file
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    logged = b"".join(p.read_bytes() for p in offline[0].rglob("*") if p.is_file())
    assert b"rewards/accuracies" in logged and b"sk-do-not-log" not in logged
