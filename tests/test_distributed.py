"""Two CPU processes (gloo) against one: DDP and FSDP give the single process's adapter, an FSDP checkpoint
resumes, the sharded reference pass writes the single process's cache, PPO and GRPO under DDP give the single
process's policy, evaluation's shared forced choice, open answers and drift give the single process's results;
whitening over shards; and the memory estimates."""
import dataclasses
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from dpo import distributed
from dpo.config import TrainConfig
from dpo.data import end_of_turn_id, read_pairs
from dpo.lora import LoRAConfig, inject_lora, lora_layers
from dpo.models import load_model
from dpo.run import make_trainable, open_log, run_training
from dpo.tracking import read_metrics
from eval.drift import drift, read_neutral
from eval.open import OpenConfig, answer_open
from eval.scoring import ScoringConfig, score_items
from eval.suites import read_suites, select
from rlhf.math import masked_moments, masked_whiten
from rlhf.ppo import PolicyWithValue
from rlhf.rollout import prompts_from_pairs
from rlhf.run import fit_policy, run_rlhf

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "data" / "examples" / "pairs.jsonl"
WORLD = 2


def config(tmp: Path, name: str, **kw) -> TrainConfig:
    """9 pairs in micro-batches of 4 (4, 4, 1: rank 1's shard of the last is empty), 2 a step, across an
    epoch's end; the pairs' lengths differ, so the ranks see different token counts."""
    base = dict(model="tiny-random", data=[str(EXAMPLES)], eval_data=[str(EXAMPLES)], max_train_pairs=9,
                max_eval_pairs=5, precision="fp32", batch_size=4, grad_accum=2, lr=1e-2, warmup_ratio=0.3,
                max_steps=3, eval_every=100, save_every=1, keep_checkpoints=3, max_length=256,
                max_prompt_length=128, lora_r=4, lora_alpha=8, lora_targets=["q_proj", "v_proj", "up_proj"],
                out=str(tmp / name), cache_dir=str(tmp / f"cache-{name}"))
    return TrainConfig(**{**base, **kw})


def rm_config(tmp: Path, name: str, **kw) -> TrainConfig:
    return config(tmp, name, algo="rm", rm_norm_samples=4, response_length=4, **kw)


def forced_choice(tmp: Path, name: str) -> None:
    """Score a few suite items (3 batches) and save the scores (rank 0)."""
    model, tokenizer = load_model("tiny-random")
    items = select(read_suites([ROOT / "data" / "eval" / "compliance.jsonl"]), 5, seed=0)
    scores = score_items(model, tokenizer, items, ScoringConfig(batch_size=4, precision="fp32"))
    if distributed.is_main():
        torch.save([(s.logp_sum, s.logp_mean) for s in scores], tmp / f"scores-{name}.pt")


def open_and_drift(tmp: Path, name: str) -> None:
    """Open answers (greedy and sampled, 6 tokens; 5 prompts: rank 0 answers 3, rank 1 two) and drift (5 neutral
    blocks in batches of 2: rank 0 runs 2 batches, rank 1 one) of the tiny model with a seeded random adapter
    (B ~ N(0, 2): the prompts get different greedy answers); every rank saves what it got."""
    model, tokenizer = load_model("tiny-random")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        inject_lora(model, LoRAConfig(r=4, alpha=8))
        with torch.no_grad():
            for layer in lora_layers(model).values():
                layer.lora_B.weight.normal_(0, 2.0)
    items = select(read_suites([ROOT / "data" / "eval" / "open.jsonl"]), 5, seed=0)
    cfg = OpenConfig(max_new_tokens=6, sampled=True, batch_size=2, precision="fp32")
    _, records = answer_open(model, tokenizer, items, cfg)
    moved = drift(model, tokenizer, read_neutral()[:5], precision="fp32", batch_size=2)
    torch.save({"records": records, "drift": moved}, tmp / f"open-{name}-{distributed.rank()}.pt")


def policy_config(tmp: Path, name: str, algo: str, **kw) -> TrainConfig:
    """PPO: 6 prompts a step, 2 passes, micro-batches of 3 rows; GRPO: 3 prompts x 3 samples (rank 0 holds two
    groups, rank 1 one), micro-batches of 5 and 4 rows. 2 steps; the held-out rollout is 1 prompt (rank 1 runs
    a stand-in)."""
    per_algo = (dict(batch_size=6, ppo_epochs=2, kl_target=3.0) if algo == "ppo"
                else dict(batch_size=3, group_size=3, kl_coef=0.1))
    return TrainConfig(**{**dict(algo=algo, model="tiny-random", reward_fn="unused:scorer", precision="fp32", lr=1e-2,
                                 warmup_ratio=0.0, max_steps=2, eval_every=2, save_every=2, grad_accum=2,
                                 response_length=8, temperature=1.0, eos_penalty=0.5, lora_r=4, lora_alpha=8,
                                 lora_targets=["q_proj", "v_proj", "up_proj"], max_prompt_length=64,
                                 out=str(tmp / name)), **per_algo, **kw})


def policy_run(tmp: Path, name: str, algo: str, **kw) -> None:
    """fit_policy on the example prompts, rewarded for even token ids (a dense reward: groups differ). The
    tiny model's embeddings are scaled up, its end-of-turn token's most, so that responses end at different
    lengths and the ranks' token counts differ."""
    cfg = policy_config(tmp, name, algo, **kw)
    model, tok = load_model("tiny-random")
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(4)
        model.model.embed_tokens.weight[end_of_turn_id(tok)] *= 4
    prompts = prompts_from_pairs(tok, read_pairs(EXAMPLES)[0], cfg.max_prompt_length)
    make_trainable(model, cfg)
    policy = PolicyWithValue(model) if algo == "ppo" else model
    scorer = lambda rollout: ((rollout.response % 2 == 0).float() * rollout.mask).sum(-1)  # noqa: E731
    fit_policy(policy, tok, cfg, train_prompts=prompts, eval_prompts=prompts[:1], scorer=scorer,
               run_dir=Path(cfg.out), device=torch.device("cpu"), log=open_log(Path(cfg.out), cfg))


def grpo_train_config(tmp: Path, name: str, **kw) -> TrainConfig:
    """GRPO through run_rlhf (train.py's path): 3 prompts x 2 samples a step, a reward file."""
    return config(tmp, name, algo="grpo", reward_fn=f"{tmp / 'rewards.py'}:letters", batch_size=3, group_size=2,
                  response_length=6, temperature=1.0, max_steps=2, save_every=2, eval_every=2, **kw)


def worker(rank: int, port: int, tmp: Path) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    try:
        run_training(config(tmp, "ddp", dist="ddp"))
        fsdp = config(tmp, "fsdp", dist="fsdp")
        run_training(fsdp)
        # the same run stopped after step 2: its last checkpoint and its adapter gone, then resumed
        if distributed.is_main():
            shutil.copytree(tmp / "fsdp", tmp / "fsdp-resumed")
            shutil.rmtree(tmp / "fsdp-resumed" / "checkpoints" / "step-000003")
            shutil.rmtree(tmp / "fsdp-resumed" / "adapter")
        distributed.barrier()
        run_training(dataclasses.replace(fsdp, out="", resume=str(tmp / "fsdp-resumed")))
        run_rlhf(rm_config(tmp, "rm-ddp", dist="ddp"))
        forced_choice(tmp, "ddp")
        open_and_drift(tmp, "ddp")
        for algo in ("ppo", "grpo"):
            policy_run(tmp, f"{algo}-ddp", algo, dist="ddp")
        run_rlhf(grpo_train_config(tmp, "grpo-run-ddp", dist="ddp"))
    finally:
        distributed.teardown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def adapter(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "adapter" / "adapter_model.safetensors")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    run_training(config(tmp, "single"))
    run_rlhf(rm_config(tmp, "rm-single"))
    forced_choice(tmp, "single")
    open_and_drift(tmp, "single")
    for algo in ("ppo", "grpo"):
        policy_run(tmp, f"{algo}-single", algo)
    (tmp / "rewards.py").write_text("def letters(prompts, completions):\n"
                                    "    return [sum(ch.isalpha() for ch in c) for c in completions]\n")
    run_rlhf(grpo_train_config(tmp, "grpo-run-single"))
    mp.spawn(worker, args=(free_port(), tmp), nprocs=WORLD, join=True)
    return tmp


def test_ddp_and_fsdp_adapters_equal_the_single_process_one(runs):
    single = adapter(runs / "single")
    for mode in ("ddp", "fsdp"):
        other = adapter(runs / mode)
        assert other.keys() == single.keys()
        for k in single:
            torch.testing.assert_close(other[k], single[k], rtol=1e-5, atol=1e-6, msg=f"{mode}: {k}")
        # B starts at zero and moved: the comparison is not of untrained adapters
        assert any(single[k].abs().max() > 1e-3 for k in single if "lora_B" in k)
        a, b = read_metrics(runs / "single"), read_metrics(runs / mode)
        assert [r["step"] for r in b] == [1, 2, 3]  # logged once, by rank 0
        for key in ("loss", "rewards/margins", "grad_norm"):
            assert [r[key] for r in b] == pytest.approx([r[key] for r in a], rel=1e-4, abs=1e-6), (mode, key)
        for key in ("eval/loss", "eval/rewards/margins"):  # at the last step
            assert b[-1][key] == pytest.approx(a[-1][key], rel=1e-4, abs=1e-6), (mode, key)


def test_fsdp_checkpoint_resumes_to_the_same_adapter(runs):
    assert (runs / "fsdp" / "checkpoints" / "step-000003" / "sharded").is_dir()
    straight, resumed = adapter(runs / "fsdp"), adapter(runs / "fsdp-resumed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert [r["loss"] for r in read_metrics(runs / "fsdp-resumed")] == [r["loss"] for r in read_metrics(runs / "fsdp")]


def test_sharded_reference_cache_equals_the_single_process_cache(runs):
    single = sorted((runs / "cache-single" / "reference").glob("*.safetensors"))
    sharded = sorted((runs / "cache-ddp" / "reference").glob("*.safetensors"))
    assert [p.name for p in single] == [p.name for p in sharded] and len(single) == 2  # train and eval
    for a, b in zip(single, sharded):
        x, y = load_file(a), load_file(b)
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_reward_model_under_ddp_equals_the_single_process_one(runs):
    single = load_file(runs / "rm-single" / "reward_model" / "reward_model.safetensors")
    ddp = load_file(runs / "rm-ddp" / "reward_model" / "reward_model.safetensors")
    assert single.keys() == ddp.keys()
    # head.bias cancels in the Bradley-Terry margin: its gradient is rounding noise, which AdamW scales to
    # steps of size lr in either direction, so only the identified parameters compare
    for k in sorted(set(single) - {"head.bias"}):
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-4, atol=2e-6, msg=k)


def test_sharded_forced_choice_scores_equal_one_process(runs):
    single, sharded = torch.load(runs / "scores-single.pt"), torch.load(runs / "scores-ddp.pt")
    assert len(single) == len(sharded) > 4 and single == sharded


def test_sharded_open_answers_and_drift_equal_one_process(runs):
    single = torch.load(runs / "open-single-0.pt")
    answers = [r["answer"] for r in single["records"]]
    assert len(answers) == 5 and len(set(answers)) == 5  # distinct answers: their order shows
    assert single["drift"]["kl"] > 1e-3 and single["drift"]["tokens"] > 0
    for rank in range(WORLD):  # every rank holds every answer, in order
        sharded = torch.load(runs / f"open-ddp-{rank}.pt")
        assert sharded["records"] == single["records"]  # greedy and sampled answers, the choice after each
        assert sharded["drift"]["tokens"] == single["drift"]["tokens"]
        for key in ("kl", "perplexity"):
            assert sharded["drift"][key] == pytest.approx(single["drift"][key], rel=1e-6, abs=1e-6), (rank, key)


@pytest.mark.parametrize("algo", ["ppo", "grpo"])
def test_ppo_and_grpo_under_ddp_equal_the_single_process_policy(runs, algo):
    # the adapter (and PPO's value head) after 2 steps: 4 (PPO) or 2 (GRPO) optimizer steps
    single = load_file(runs / f"{algo}-single" / "checkpoints" / "step-000002" / "trainable.safetensors")
    ddp = load_file(runs / f"{algo}-ddp" / "checkpoints" / "step-000002" / "trainable.safetensors")
    assert single.keys() == ddp.keys() and any("value_head" in k for k in single) == (algo == "ppo")
    # 4 AdamW steps of lr 1e-2 turn gradient rounding (the ranks' sums run in another order) into ~2e-6 of
    # weight on an AVX2 CPU; a DDP mistake that turns the gradient (a rank's rows dropped or counted twice, tokens
    # normalised per rank) moves weights by ~lr a step, and the logged losses below catch a mere rescaling
    for k in single:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-5, atol=1e-5, msg=f"{algo}: {k}")
    assert any(single[k].abs().max() > 1e-3 for k in single if "lora_B" in k)  # trained, not at zero
    a, b = read_metrics(runs / f"{algo}-single"), read_metrics(runs / f"{algo}-ddp")
    assert [r["step"] for r in b] == [1, 2]  # logged once, by rank 0
    lengths = [r["val/response_length"] for r in a]
    assert all(0 < n < 9 for n in lengths) and any(n != int(n) for n in lengths)  # responses of unequal lengths
    for key in ("objective/scores", "objective/kl", "policy/entropy", "loss/policy", "policy/approxkl", "grad_norm",
                "val/response_length", "val/num_eos_tokens"):
        assert [r[key] for r in b] == pytest.approx([r[key] for r in a], rel=1e-4, abs=1e-6), (algo, key)
    for key in ("eval/objective/scores", "eval/objective/kl"):  # at the last step; rank 1 ran a stand-in
        assert b[-1][key] == pytest.approx(a[-1][key], rel=1e-4, abs=1e-6), (algo, key)


def test_grpo_run_under_ddp_writes_the_single_process_adapter(runs):
    single, ddp = adapter(runs / "grpo-run-single"), adapter(runs / "grpo-run-ddp")
    assert single.keys() == ddp.keys()
    for k in single:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-5, atol=1e-6, msg=k)
    assert any(single[k].abs().max() > 1e-3 for k in single if "lora_B" in k)
    assert [r["step"] for r in read_metrics(runs / "grpo-run-ddp")] == [1, 2]


def test_whitening_over_shards_equals_whitening_the_whole_batch():
    x = torch.tensor([[1.0, 2.0], [3.0, 100.0], [6.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # entries 1, 2, 3, 6, 0: mean 2.4, var 5.3
    whole = masked_whiten(x, mask)
    expected = (torch.tensor([[1.0, 2.0], [3.0, 2.4], [6.0, 0.0]]) - 2.4) / 5.3 ** 0.5 * mask
    torch.testing.assert_close(whole, expected)
    shards = (slice(0, 1), slice(1, 3))  # rank 0: row 0, rank 1: rows 1 and 2
    parts = [masked_moments(x[s], mask[s]) for s in shards]
    moments = {k: parts[0][k] + parts[1][k] for k in parts[0]}  # what global_sum adds up
    assert moments["n"] == 5 and moments["s"] == 12 and moments["q"] == 50
    torch.testing.assert_close(torch.cat([masked_whiten(x[s], mask[s], moments=moments) for s in shards]), whole)
    alone = masked_whiten(x[shards[0]], mask[shards[0]])  # each shard on its own statistics: not the same
    assert not torch.allclose(alone, whole[shards[0]], atol=0.1)


def test_shard_and_gather_are_identities_in_one_process():
    assert distributed.shard([5, 3, 9]) == ([5, 3, 9], 3)
    assert distributed.gather_in_order({1: "b", 0: "a"}, 2) == ["a", "b"]
    with pytest.raises(ValueError, match="--dist ddp for rm"):
        TrainConfig(dist="fsdp", algo="rm")
    with pytest.raises(ValueError, match="under torchrun"):
        distributed.setup("ddp", "cpu")


def test_memory_estimates_follow_the_formulas():
    shape = distributed.SHAPES[1]  # 8B
    full = distributed.memory_gib(shape, "full-ddp")
    fsdp = distributed.memory_gib(shape, "full-fsdp", gpus=8)
    lora = distributed.memory_gib(shape, "lora-ddp")
    assert full > 16 * shape.params / 2 ** 30 > fsdp > lora / 8  # 16 B/param whole; FSDP shares the states
    assert lora < full / 3
    assert distributed.memory_gib(shape, "full-fsdp", gpus=16) < fsdp
    assert "70B" in distributed.memory_table()
