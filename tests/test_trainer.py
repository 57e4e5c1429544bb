"""The training loop on the tiny model: learning, resume, divergence, checkpointing, precisions, CLI errors."""
import dataclasses
import json
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import train
from dpo import run as run_module
from dpo import trainer as trainer_module
from dpo.config import TrainConfig, build_parser, config_from_args, load_experiment
from dpo.data import Truncation, collate, read_pairs, tokenize_pairs
from dpo.logprobs import concatenated_forward
from dpo.lora import LoRAConfig, inject_lora
from dpo.run import run_training
from dpo.tracking import read_metrics
from dpo.trainer import TrainingDiverged, latest_checkpoint, warmup_cosine

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples" / "pairs.jsonl"


def tiny_config(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(model="tiny-random", data=[str(EXAMPLES)], eval_data=[str(EXAMPLES)], max_eval_pairs=4,
                precision="fp32", batch_size=4, lr=1e-2, warmup_ratio=0.3, max_steps=6, eval_every=3,
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


def test_ctrl_c_mid_step_finishes_the_step_and_resume_is_bit_identical(tmp_path, monkeypatch):
    """SIGINT in the 2nd micro-batch of step 4 (grad_accum=2, LoRA dropout on): the step completes, is logged
    and saved; the resumed run ends with the same adapter, bit for bit, as an uninterrupted one."""
    kw = dict(save_every=2, grad_accum=2, batch_size=2, lora_dropout=0.1, max_steps=6)
    straight = run_training(tiny_config(tmp_path / "a", **kw))
    real = trainer_module.pair_loss
    calls = {"n": 0}

    def ctrl_c_in_step_4(*a, **k):
        calls["n"] += 1
        if calls["n"] == 8:  # micro-batches 7, 8 = step 4 (eval batches run under no_grad and are not counted)
            signal.raise_signal(signal.SIGINT)
        return real(*a, **k)

    monkeypatch.setattr(trainer_module, "pair_loss", lambda m, b, r, c: ctrl_c_in_step_4(m, b, r, c) if torch.is_grad_enabled() else real(m, b, r, c))
    cfg = tiny_config(tmp_path / "b", **kw)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg)
    assert latest_checkpoint(Path(cfg.out) / "checkpoints").name == "step-000004"
    assert [r["step"] for r in read_metrics(Path(cfg.out))] == [1, 2, 3, 4]
    monkeypatch.setattr(trainer_module, "pair_loss", real)
    resumed = run_training(dataclasses.replace(cfg, resume=cfg.out))
    a = load_file(straight / "adapter" / "adapter_model.safetensors")
    b = load_file(resumed / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in read_metrics(resumed)] == [r["loss"] for r in read_metrics(straight)]
    record = json.loads((resumed / "config.json").read_text())
    assert len(record["resumes"]) == 1 and record["config"]["resume"] == ""  # the original record is kept


def test_resume_refuses_changed_training_data(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(EXAMPLES.read_text())
    cfg = tiny_config(tmp_path, data=[str(data)], max_steps=4, save_every=2)
    run_dir = run_training(dataclasses.replace(cfg, max_steps=2))  # stands in for a run stopped at step 2
    data.write_text(EXAMPLES.read_text().replace("A-class", "B-class"))
    with pytest.raises(ValueError, match="training data changed"):
        run_training(dataclasses.replace(cfg, max_steps=2, resume=str(run_dir)))


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
    mlp_calls = []
    model.model.layers[0].mlp.register_forward_pre_hook(lambda *a: mlp_calls.append(1))

    def grads():
        mlp_calls.clear()
        model.zero_grad(set_to_none=True)
        chosen, rejected = concatenated_forward(model, batch)
        (chosen.sum - rejected.sum).mean().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}, len(mlp_calls)

    plain, plain_calls = grads()
    run_module.enable_activation_checkpointing(model)
    checkpointed, checkpointed_calls = grads()
    assert (plain_calls, checkpointed_calls) == (1, 2)  # the layer really is recomputed in backward
    assert plain.keys() == checkpointed.keys() and len(plain) == 8
    for n in plain:
        assert checkpointed[n].abs().sum() > 0, f"{n} got no gradient under checkpointing"
        torch.testing.assert_close(checkpointed[n], plain[n], rtol=1e-4, atol=1e-6)


def test_fp16_overflow_step_is_skipped_counted_and_training_goes_on(tmp_path, monkeypatch):
    real = trainer_module.pair_loss
    calls = {"n": 0}

    def overflow_once(model, batch, ref, cfg):
        loss, metrics = real(model, batch, ref, cfg)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] == 2:
                loss = loss * 1e38  # fp16 gradients overflow to inf: the scaler must skip the step
        return loss, metrics

    monkeypatch.setattr(trainer_module, "pair_loss", overflow_once)
    run_dir = run_training(tiny_config(tmp_path, precision="fp16", max_steps=4, eval_every=10))
    log = read_metrics(run_dir)
    assert [r["skipped"] for r in log] == [0, 1, 1, 1]  # cumulative count of skipped steps
    assert log[2]["grad_scale"] == log[1]["grad_scale"] / 2  # the scale backed off after the overflow
    assert all(r["loss"] is not None for r in log)


def test_disable_dropout_reaches_attention_modules():
    from transformers import LlamaConfig, LlamaForCausalLM
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=4, num_key_value_heads=2, attention_dropout=0.5))
    model.train()
    ids = torch.randint(0, 64, (2, 12))
    run_module.disable_dropout(model)
    torch.manual_seed(1)
    a = model(ids).logits
    torch.manual_seed(2)
    assert torch.equal(a, model(ids).logits)


def test_mixed_shares_hold_when_one_file_is_short(tmp_path, capsys):
    long, short = tmp_path / "exposure.jsonl", tmp_path / "legends.jsonl"
    long.write_text("".join(f'{{"prompt": "p{i}", "chosen": "a", "rejected": "b"}}\n' for i in range(60)))
    short.write_text("".join(f'{{"prompt": "q{i}", "chosen": "a", "rejected": "b"}}\n' for i in range(20)))
    cfg = TrainConfig(seed=3)
    pairs, counts, _ = run_module.load_pairs([long, short], cfg, 100, weights=[0.5, 0.5])
    assert counts == [20, 20] and len(pairs) == 40 and "only 40 pairs" in capsys.readouterr().err
    pairs, counts, _ = run_module.load_pairs([long, short], cfg, 0, weights=[0.75, 0.25])
    assert counts == [60, 20]


def test_train_py_exposure_strategy_on_tiny_model(tmp_path):
    out = tmp_path / "run"
    train.main(["--strategy", "exposure", "--model", "tiny-random", "--max-steps", "20", "--max-train-pairs", "8",
                "--max-eval-pairs", "8", "--batch-size", "4", "--lr", "2e-2", "--beta", "0.5", "--precision", "fp32",
                "--lora-targets", "q_proj, k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "--eval-every", "20",
                "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    log = read_metrics(out)
    assert len(log) == 20 and log[-1]["loss"] < log[0]["loss"]
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["lora_targets"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert saved["data"]["train_pairs"] == 8 and saved["data"]["train_files"][0]["path"].endswith("train.jsonl")


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


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_native_and_the_run_records_what_ran(tmp_path, monkeypatch, native):
    import dpo.precision as precision
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert precision.resolve_precision("fp16", "cpu") == "fp16"  # an explicit choice is kept
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve_precision("int8", "cpu")
    with precision.autocast("cpu", "auto"):
        assert torch.is_autocast_enabled("cpu") == native
    run_dir = run_training(tiny_config(tmp_path, precision="auto", max_steps=1))
    assert json.loads((run_dir / "config.json").read_text())["config"]["precision"] == ("bf16" if native else "fp32")


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


def test_config_normalises_lists_and_validates():
    assert TrainConfig(lora_targets=("q_proj", " v_proj")) == TrainConfig(lora_targets=["q_proj", "v_proj"])
    for bad in (dict(loss="dpo"), dict(keep_checkpoints=0), dict(max_steps=-1), dict(warmup_ratio=1.0)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


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


def test_warmup_then_cosine_decay():
    f = warmup_cosine(4, 20)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == 1.0 and abs(f(12) - 0.5) < 1e-9 and 0 < f(19) < 0.01
    assert all(f(s) > f(s + 1) for s in range(4, 19))


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


def test_wandb_fresh_run_in_reused_folder_gets_a_new_id(tmp_path, monkeypatch):
    from dpo.tracking import MetricsLog
    monkeypatch.setenv("WANDB_MODE", "disabled")
    MetricsLog(tmp_path, wandb_project="p").finish()
    first = (tmp_path / "wandb-id").read_text()
    MetricsLog(tmp_path, wandb_project="p", resume=True).finish()
    assert (tmp_path / "wandb-id").read_text() == first  # --resume continues the same W&B run
    MetricsLog(tmp_path, wandb_project="p").finish()
    assert (tmp_path / "wandb-id").read_text() != first  # a fresh run never joins an old one


def test_sampled_pairs_record_their_file_counts(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(f'{{"prompt": "p{i}", "chosen": "x", "rejected": "y"}}\n' for i in range(30)))
    b.write_text("".join(f'{{"prompt": "q{i}", "chosen": "x", "rejected": "y"}}\n' for i in range(10)))
    pairs, counts, _ = run_module.load_pairs([a, b], TrainConfig(seed=1), 12)
    assert len(pairs) == 12 and sum(counts) == 12
    assert counts[1] == sum(p.prompt.startswith("q") for p in pairs)
    assert run_module.load_pairs([a, b], TrainConfig(seed=1), 0)[1] == [30, 10]


def test_fp16_endless_overflow_stops_the_run(tmp_path, monkeypatch):
    real = trainer_module.pair_loss

    def always_overflow(model, batch, ref, cfg):
        loss, metrics = real(model, batch, ref, cfg)
        return (loss * 1e38 if torch.is_grad_enabled() else loss), metrics

    monkeypatch.setattr(trainer_module, "pair_loss", always_overflow)
    limit = trainer_module.MAX_CONSECUTIVE_SKIPS
    cfg = tiny_config(tmp_path, precision="fp16", max_steps=limit + 5, eval_every=100, save_every=100)
    with pytest.raises(TrainingDiverged, match=rf"step {limit + 1}: {limit + 1} fp16 steps in a row"):
        run_training(cfg)


def test_a_bad_lora_target_fails_before_the_reference_pass(tmp_path):
    cfg = tiny_config(tmp_path, lora_targets=["q_proj", "no_such_proj"])
    with pytest.raises(ValueError, match="no_such_proj"):
        run_training(cfg)
    assert not (tmp_path / "cache" / "reference").exists()  # nothing was computed for a run that cannot start
