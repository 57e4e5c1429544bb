"""RLHF baselines on the tiny model: the RL math against hand-computed values, rollout log-probs, reward model,
PPO and GRPO learning a rule reward with the KL held, exact resume of a killed PPO run, and train.py --algo."""
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import train
from dpo.config import TrainConfig
from dpo.data import Truncation, collate, read_pairs, tokenize_pairs
from dpo.lora import load_adapter
from dpo.models import load_model, model_identity
from dpo.run import make_trainable
from dpo.tracking import MetricsLog, read_metrics
from rlhf import run as rlhf_run
from rlhf.math import (adaptive_kl_coef, clipped_policy_loss, clipped_value_loss, gae, group_advantages, kl_k1, kl_k3,
                       masked_whiten, token_rewards)
from rlhf.ppo import PolicyWithValue
from rlhf.reward_model import RewardModel, base_record, load_reward_model, raw_rewards, reward_pair_loss
from rlhf.rollout import prompts_from_pairs, response_forward, sample_rollout
from rlhf.run import fit_policy, run_rlhf

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples" / "pairs.jsonl"
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CPU = torch.device("cpu")
REWARD_FILE = '''
def count_u(prompts, completions):
    return [c.count("U") for c in completions]

def wrong_length(prompts, completions):
    return [1.0]
'''


# ----------------------------------------------------------------------------- the math, by hand

def test_clipped_policy_loss_by_hand():
    ratio = torch.tensor([[1.5, 0.5, 1.1, 0.7]])
    advantages = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    loss, info = clipped_policy_loss(ratio.log(), torch.zeros_like(ratio), advantages, clip=0.2)
    # max(-A r, -A clip(r)): -1.2 (clipped at 1.2), -0.5, 1.1 (inside the range), 0.8 (clipped at 0.8)
    assert torch.allclose(loss, torch.tensor([[-1.2, -0.5, 1.1, 0.8]]))
    assert info["clipped"].tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert torch.allclose(info["ratio"], ratio)
    assert torch.allclose(info["approxkl"], 0.5 * ratio.log() ** 2)


def test_clipped_value_loss_by_hand():
    loss, clipped = clipped_value_loss(torch.tensor([0.5, -0.1]), torch.zeros(2), torch.ones(2), clip=0.2)
    # 0.5 * max((0.5 - 1)^2, (0.2 - 1)^2) = 0.32; -0.1 is inside the clip: 0.5 * 1.1^2 = 0.605
    assert torch.allclose(loss, torch.tensor([0.32, 0.605]))
    assert clipped.tolist() == [1.0, 0.0]


def test_gae_by_hand_and_masked():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 9.0]])
    values = torch.tensor([[0.5, 0.2, 0.1], [0.5, 0.2, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # row 0: A2 = 1 - 0.1 = 0.9; A1 = (0 + 0.1 - 0.2) + 0.95 * 0.9 = 0.755; A0 = (0.2 - 0.5) + 0.95 * 0.755 = 0.41725
    # row 1 ends after 2 tokens (its reward 9 and value 7 are padding): A1 = 2 - 0.2 = 1.8; A0 = -0.3 + 0.95 * 1.8
    assert torch.allclose(advantages, torch.tensor([[0.41725, 0.755, 0.9], [1.41, 1.8, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[0.91725, 0.955, 1.0], [1.91, 2.0, 0.0]]))


def test_group_advantages_by_hand():
    advantages = group_advantages(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0]), group_size=4)
    std = math.sqrt(5 / 3)  # unbiased std of 1, 2, 3, 4
    expected = [x / (std + 1e-4) for x in (-1.5, -0.5, 0.5, 1.5)] + [0.0] * 4  # a group of equal scores: no signal
    assert torch.allclose(advantages, torch.tensor(expected))
    with pytest.raises(ValueError, match="group_size"):
        group_advantages(torch.zeros(6), group_size=4)


def test_kl_estimators_whitening_rewards_and_controller_by_hand():
    logp, ref = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    assert torch.allclose(kl_k1(logp, ref), torch.tensor([math.log(2)]))
    assert torch.allclose(kl_k3(logp, ref), torch.tensor([0.5 + math.log(2) - 1]))  # exp(d) - d - 1, d = -ln 2
    assert kl_k3(logp, logp).item() == 0.0
    white = masked_whiten(torch.tensor([1.0, 2.0, 3.0, 100.0]), torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert torch.allclose(white, torch.tensor([-1.0, 0.0, 1.0, 0.0]))  # mean 2, unbiased var 1; padding stays 0
    rewards = token_rewards(torch.tensor([2.0]), torch.tensor([[0.1, 0.2, 0.3, 0.4]]),
                            torch.tensor([[1.0, 1.0, 1.0, 0.0]]), kl_coef=0.5)
    assert torch.allclose(rewards, torch.tensor([[-0.05, -0.1, -0.15 + 2.0, 0.0]]))  # the score at the last token
    assert adaptive_kl_coef(0.1, kl=12.0, target=6.0, horizon=10_000, n_steps=1_000) == pytest.approx(0.102)
    assert adaptive_kl_coef(0.1, kl=5.4, target=6.0, horizon=10_000, n_steps=1_000) == pytest.approx(0.099)


# ----------------------------------------------------------------------------- rollouts

def test_rollout_layout_and_temperature_corrected_logps(tiny):
    model, tok = tiny
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():  # a less flat policy, more inclined to end: some responses end early
        model.model.embed_tokens.weight.mul_(4)
        model.model.embed_tokens.weight[eot] *= 4
    pairs, _ = read_pairs(EXAMPLES)
    prompts = prompts_from_pairs(tok, pairs, max_prompt_length=64)
    assert len(prompts) == len(pairs) and all(len(p.ids) <= 64 for p in prompts)
    kw = dict(max_new_tokens=12, temperature=0.7, seed=3, precision="fp32", device=CPU)
    rollout, again = sample_rollout(model, tok, prompts, **kw), sample_rollout(model, tok, prompts, **kw)
    assert torch.equal(rollout.input_ids, again.input_ids)
    lengths = rollout.mask.sum(-1).long()
    for b in range(len(rollout)):
        n, p = int(lengths[b]), int(rollout.prompt_lengths[b])
        assert rollout.input_ids[b, p:p + n].tolist() == rollout.response[b, :n].tolist()
        assert (rollout.response[b, n - 1] == eot) == bool(rollout.ended[b]) and (bool(rollout.ended[b]) or n == 12)
        assert int(rollout.attention_mask[b].sum()) == p + n
    assert rollout.ended.any() and not rollout.ended.all()
    with torch.no_grad():
        out = response_forward(model, rollout, temperature=0.7)
        logits = model(input_ids=rollout.input_ids, attention_mask=rollout.attention_mask).logits
    for b in range(len(rollout)):  # by hand: log softmax(logits / T) of each response token, from the full logits
        n, p = int(lengths[b]), int(rollout.prompt_lengths[b])
        expected = (logits[b, p - 1:p + n - 1] / 0.7).log_softmax(-1).gather(-1, rollout.response[b, :n, None])[:, 0]
        assert torch.allclose(out.logps[b, :n], expected, atol=1e-5)
        assert (out.logps[b, n:] == 0).all()


# ----------------------------------------------------------------------------- learning a rule reward

TARGET = "U"


def count_target(tok):
    """A Scorer: how many times the target token occurs in each response."""
    target = tok.convert_tokens_to_ids(TARGET)
    return lambda rollout: ((rollout.response == target).float() * rollout.mask).sum(-1)


def rl_config(tmp_path: Path, algo: str, **kw) -> TrainConfig:
    base = dict(algo=algo, model="tiny-random", reward_fn="unused:scorer", precision="fp32", lr=1e-2, warmup_ratio=0.0,
                max_steps=25, eval_every=25, save_every=25, response_length=8, temperature=1.0, eos_penalty=0.0,
                lora_r=4, lora_alpha=8, lora_targets=ALL_LINEAR, out=str(tmp_path / algo), max_prompt_length=64)
    base.update(kw)
    return TrainConfig(**base)


def learn(tmp_path: Path, cfg: TrainConfig, prompts_times: int = 1) -> list[dict]:
    """fit_policy on the example prompts with the count-of-target reward; the tiny model's embeddings are scaled
    up so that a LoRA policy can move its next-token distribution by more than a few percent."""
    torch.manual_seed(0)
    model, tok = load_model("tiny-random")
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(4)
    prompts = prompts_from_pairs(tok, read_pairs(EXAMPLES)[0], cfg.max_prompt_length)
    make_trainable(model, cfg)
    policy = PolicyWithValue(model) if cfg.algo == "ppo" else model
    fit_policy(policy, tok, cfg, train_prompts=prompts * prompts_times, eval_prompts=prompts[:8],
               scorer=count_target(tok), run_dir=Path(cfg.out), device=CPU, log=MetricsLog(Path(cfg.out)))
    return read_metrics(Path(cfg.out))


@pytest.mark.parametrize("algo", ["ppo", "grpo"])
def test_policy_learns_rule_reward_with_kl_bounded(tmp_path, algo):
    # the same 16 responses a step: PPO 16 prompts x 1, GRPO 4 prompts x G = 4
    kw = dict(batch_size=16, ppo_epochs=2) if algo == "ppo" else dict(batch_size=4, group_size=4)
    log = learn(tmp_path, rl_config(tmp_path, algo, **kw), prompts_times=4)
    scores = [r["objective/scores"] for r in log]
    assert len(log) == 25
    assert sum(scores[-5:]) / 5 > sum(scores[:5]) / 5 + 1.5  # from ~0.1 of 8 tokens to several
    assert log[-1]["eval/objective/scores"] > 1.5
    kls = [r["objective/kl"] for r in log]
    assert all(math.isfinite(k) for k in kls) and max(kls) < 16  # nats over 8 tokens; a uniform policy is ~40 away
    for key in ("objective/kl", "objective/scores", "objective/rlhf_reward", "policy/approxkl", "policy/clipfrac",
                "policy/entropy", "loss/policy", "val/ratio", "grad_norm", "lr", "step_time"):
        assert key in log[-1]
    if algo == "ppo":
        assert "loss/value" in log[-1] and log[0]["kl_coef"] == 0.05


def test_grpo_kl_term_holds_the_policy_near_the_reference(tmp_path):
    kw = dict(batch_size=4, eval_every=100)
    free = learn(tmp_path / "free", rl_config(tmp_path / "free", "grpo", kl_coef=0.0, **kw), prompts_times=4)
    held = learn(tmp_path / "held", rl_config(tmp_path / "held", "grpo", kl_coef=0.3, **kw), prompts_times=4)
    mean_kl = lambda log: sum(r["objective/kl"] for r in log[-5:]) / 5  # noqa: E731
    assert mean_kl(held) < 0.5 * mean_kl(free)


# ----------------------------------------------------------------------------- resume, reward model, train.py

def test_killed_ppo_run_resumes_to_the_same_adapter(tmp_path, monkeypatch):
    reward = tmp_path / "rewards.py"
    reward.write_text(REWARD_FILE)
    kw = dict(algo="ppo", model="tiny-random", data=[str(EXAMPLES)], reward_fn=f"{reward}:count_u", precision="fp32",
              batch_size=4, max_steps=5, save_every=2, eval_every=100, response_length=6, lr=1e-2, lora_r=4,
              lora_alpha=8, ppo_epochs=2, minibatches=2, kl_target=3.0, cache_dir=str(tmp_path / "cache"))
    straight = run_rlhf(TrainConfig(**kw, out=str(tmp_path / "a")))
    real, calls = rlhf_run.ppo_step, {"n": 0}

    def killed_in_step_4(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("killed")  # a hard kill: nothing of step 4 is saved (the last checkpoint is step 2)
        return real(*a, **k)

    monkeypatch.setattr(rlhf_run, "ppo_step", killed_in_step_4)
    cfg = TrainConfig(**kw, out=str(tmp_path / "b"))
    with pytest.raises(RuntimeError, match="killed"):
        run_rlhf(cfg)
    assert [r["step"] for r in read_metrics(Path(cfg.out))] == [1, 2, 3]
    monkeypatch.setattr(rlhf_run, "ppo_step", real)
    resumed = run_rlhf(TrainConfig(**kw, out=cfg.out, resume=cfg.out))
    a = load_file(straight / "adapter" / "adapter_model.safetensors")
    b = load_file(resumed / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert read_metrics(resumed) == [{**r, "step_time": r2["step_time"], "tokens_per_second": r2["tokens_per_second"]}
                                     for r, r2 in zip(read_metrics(straight), read_metrics(resumed))]
    assert len({r["kl_coef"] for r in read_metrics(resumed)}) == 5  # the adaptive coefficient moved every step


def test_reward_model_then_ppo_through_train_py(tmp_path):
    rm_dir, cache = tmp_path / "rm", str(tmp_path / "cache")
    common = ["--model", "tiny-random", "--data", str(EXAMPLES), "--precision", "fp32", "--batch-size", "4",
              "--cache-dir", cache, "--response-length", "8", "--lora-targets", ",".join(ALL_LINEAR)]
    train.main(["--algo", "rm", *common, "--eval-data", str(EXAMPLES), "--max-steps", "20", "--lr", "2e-2",
                "--eval-every", "20", "--rm-norm-samples", "16", "--out", str(rm_dir)])
    log = read_metrics(rm_dir)
    assert log[-1]["eval/accuracy"] == 1.0 and log[-1]["eval/loss"] < log[0]["loss"]  # separable: the 12 pairs
    assert {"loss", "accuracy", "margin", "eval/margin"} <= log[-1].keys()
    assert not (rm_dir / "adapter").exists()

    reward_model, tok, config = load_reward_model(rm_dir)  # on its own, from the folder
    assert config["normalisation"]["samples"] == 16 and config["vocab_size"] == len(tok)
    assert reward_model.std > 0 and all(isinstance(v, float) for v in (reward_model.mean, reward_model.std))

    other, other_tok = load_model("tiny-random")
    with torch.no_grad():
        other.model.norm.weight.add_(0.1)
    with pytest.raises(ValueError, match="another base model"):
        load_reward_model(rm_dir, expect=base_record("tiny-random", model_identity(other), other_tok))
    other_tok.add_tokens(["<extra>"])
    with pytest.raises(ValueError, match="another tokenizer"):
        load_reward_model(rm_dir, expect=base_record("tiny-random", model_identity(other), other_tok))

    ppo_dir = tmp_path / "ppo"
    train.main(["--algo", "ppo", *common, "--reward-model", str(rm_dir), "--max-steps", "2", "--out", str(ppo_dir)])
    record = json.loads((ppo_dir / "config.json").read_text())
    assert record["config"]["algo"] == "ppo" and record["data"]["reward_model"].endswith("reward_model")
    assert "objective/scores" in read_metrics(ppo_dir)[-1]
    base, _ = load_model("tiny-random")
    load_adapter(base, ppo_dir / "adapter")  # the result is a PEFT adapter like a DPO run's


def test_reward_model_loss_takes_pair_confidence_as_a_soft_target(tiny):
    model, tok = tiny
    reward_model = RewardModel(model)
    pairs = [replace(p, confidence=c) for p, c in zip(read_pairs(EXAMPLES)[0][:2], (0.75, None))]
    batch = collate(tokenize_pairs(tok, pairs, Truncation(256, 128)).examples, tok.pad_token_id)
    loss, metrics = reward_pair_loss(reward_model, batch, None, TrainConfig(algo="rm"))
    with torch.no_grad():
        rewards = reward_model(torch.cat([batch["chosen_input_ids"], batch["rejected_input_ids"]]),
                               torch.cat([batch["chosen_attention_mask"], batch["rejected_attention_mask"]]))
    m = (rewards[:2] - rewards[2:]).tolist()
    log_sigmoid = lambda x: -math.log1p(math.exp(-x))  # noqa: E731
    expected = (-0.75 * log_sigmoid(m[0]) - 0.25 * log_sigmoid(-m[0]) - log_sigmoid(m[1])) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert metrics["margin"].item() == pytest.approx(sum(m) / 2, rel=1e-5)


@pytest.mark.parametrize("full", [False, True])
def test_reward_model_reloads_and_reads_each_rows_last_token(tmp_path, full):
    cfg = TrainConfig(algo="rm", model="tiny-random", data=[str(EXAMPLES)], precision="fp32", max_steps=3, lr=1e-2,
                      rm_norm_samples=4, response_length=4, full_finetune=full, out=str(tmp_path / "rm"),
                      cache_dir=str(tmp_path / "c"))
    run_dir = run_rlhf(cfg)
    reward_model, tok, config = load_reward_model(run_dir)
    assert (config["lora"] is None) == full
    trained = load_file(run_dir / "checkpoints" / "step-000003" / "trainable.safetensors")
    reloaded = dict(reward_model.named_parameters())
    assert all(torch.equal(trained[k], reloaded[k]) for k in trained)  # the head and adapters (or all weights)
    model, _ = load_model("tiny-random")
    rollout = sample_rollout(model, tok, prompts_from_pairs(tok, read_pairs(EXAMPLES)[0], 64)[:4], max_new_tokens=4,
                             temperature=1.0, seed=0, precision="fp32", device=CPU)
    raw = raw_rewards(reward_model, rollout, batch_size=2, device=CPU, precision="fp32")
    one_by_one = torch.cat([reward_model(rollout.input_ids[i:i + 1, :int(rollout.attention_mask[i].sum())],
                                         rollout.attention_mask[i:i + 1, :int(rollout.attention_mask[i].sum())])
                            for i in range(len(rollout))])
    assert torch.allclose(raw, one_by_one, atol=1e-5)  # read at each row's last real token, padding or not


@pytest.mark.parametrize("flags, message", [
    (["--algo", "ppo"], "needs one reward"),
    (["--algo", "grpo", "--reward-fn", "x:y", "--group-size", "1"], "group_size"),
    (["--algo", "ppo", "--reward-model", "/nowhere/rm"], "neither a reward-model folder"),
    (["--algo", "grpo", "--reward-fn", "no_such_module_here:f"], "cannot import"),
    (["--algo", "dpo", "--reward-fn", "x:y"], "for --algo ppo or grpo"),
])
def test_bad_rlhf_settings_fail_at_start(tmp_path, flags, message):
    with pytest.raises(SystemExit) as err:
        train.main(["--model", "tiny-random", "--data", str(EXAMPLES), "--out", str(tmp_path / "run"), *flags])
    assert message in str(err.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_grpo_through_train_py_with_reward_file_and_bad_reward_function(tmp_path):
    reward = tmp_path / "rewards.py"
    reward.write_text(REWARD_FILE)
    common = ["--algo", "grpo", "--model", "tiny-random", "--data", str(EXAMPLES), "--precision", "fp32",
              "--batch-size", "2", "--group-size", "3", "--response-length", "4", "--max-steps", "2"]
    train.main([*common, "--reward-fn", f"{reward}:count_u", "--out", str(tmp_path / "g")])
    log = read_metrics(tmp_path / "g")
    assert [r["step"] for r in log] == [1, 2] and "objective/scores_std_in_group" in log[0]
    assert (tmp_path / "g" / "adapter" / "adapter_model.safetensors").exists()
    with pytest.raises(SystemExit) as err:
        train.main([*common, "--reward-fn", f"{reward}:wrong_length", "--out", str(tmp_path / "w")])
    assert "must return 6 finite numbers" in str(err.value)
