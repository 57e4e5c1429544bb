"""Training settings: one dataclass, filled by experiment files and then by command-line flags.

An experiment file (experiments/NAME.py) is plain Python that defines either `config = TrainConfig(...)`
or `runs = {"name": TrainConfig(...), ...}`; `--config experiments/NAME.py[:run]` loads it and flags
given on the command line override its fields.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import runpy
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .precision import CHOICES as PRECISION_CHOICES

ALGOS = ("dpo", "rm", "ppo", "grpo")  # rm, ppo, grpo: rlhf/ (reward model, PPO, GRPO)
RL_ALGOS = ("ppo", "grpo")


@dataclass
class TrainConfig:
    # data
    # which pair files a strategy means is resolved above dpo/ (strategies.py); dpo/ only records these
    strategy: str = "exposure"  # exposure | legends | mixed
    mix: float = 0.5  # with strategy=mixed: fraction of legends pairs
    exposure_source: str = "authored"  # exposure pairs: authored (hand-written) | builder (templated from the catalogue)
    citations: str = "balanced"  # exposure pairs: balanced (as often on the rejected side) | none
    proportionality: float = 0.2  # exposure pairs: share where the pragmatic answer is right
    legends_source: str = "authored"  # authored | generated | a legends .jsonl file
    legends_format: str = "story+advice"  # story | advice | story+advice (the recommendation first survives the cap)
    data: list[str] = field(default_factory=list)  # training pair files (override the strategy's)
    eval_data: list[str] = field(default_factory=list)  # held-out pair files (default: the strategy's validation)
    max_train_pairs: int = 1024  # a seeded sample of this many (default: all 992 hand-written exposure pairs); 0 = all
    max_eval_pairs: int = 32
    max_length: int = 384  # prompt + response tokens
    max_prompt_length: int = 256  # a longer prompt keeps its end
    # equal budgets: responses keep at most this many tokens (their start; 0 = no cap). 168 = the exposure pairs'
    # mean, so exposure (~148 after the cap), legends and mixed runs train on about the same response tokens
    max_response_length: int = 168
    group_by_length: bool = False  # batch pairs of similar length (less padding)
    skip_invalid: bool = False  # count bad lines as warnings instead of stopping
    # model
    model: str = "smollm2-135m"
    cache_dir: str = ""
    full_finetune: bool = False  # train every weight instead of LoRA adapters
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    rslora: bool = False
    # objective
    algo: str = "dpo"
    loss: str = "sigmoid"
    beta: float = 0.1
    label_smoothing: float = 0.0
    simpo_gamma: float = 0.5
    sft_weight: float = 0.0
    # RLHF (algo rm | ppo | grpo, see rlhf/); for ppo and grpo, batch_size counts the prompts of a rollout
    reward_model: str = ""  # ppo/grpo: a reward model's run folder (train.py --algo rm) or its reward_model/
    reward_fn: str = ""  # ppo/grpo: a rule reward instead, module:function or path/file.py:function
    response_length: int = 64  # ppo/grpo (and rm's normalisation samples): most tokens sampled per response
    temperature: float = 0.7  # sampling temperature of rollouts; their log-probs use the same
    group_size: int = 4  # grpo: responses per prompt (G)
    ppo_epochs: int = 0  # ppo/grpo: passes over each rollout; 0 = the algorithm's default (ppo 4, grpo 1)
    minibatches: int = 1  # ppo/grpo: minibatches per pass, one optimizer step each
    kl_coef: float = 0.05  # ppo: per-token KL penalty in the reward; grpo: weight of the k3 KL loss term
    kl_target: float = 0.0  # ppo: > 0 turns on the adaptive KL controller, toward this KL per response
    kl_horizon: int = 10000  # ppo: the adaptive controller's horizon, in responses
    cliprange: float = 0.2  # ppo/grpo: policy ratio clipped to [1 - c, 1 + c]
    cliprange_value: float = 0.2  # ppo: value clipped to old value +- c
    vf_coef: float = 0.1  # ppo: weight of the value loss
    gamma: float = 1.0  # ppo: GAE discount
    lam: float = 0.95  # ppo: GAE lambda
    eos_penalty: float = 1.0  # ppo/grpo: subtracted from the score of a response with no end-of-turn token
    rm_norm_samples: int = 64  # rm: reference-policy samples whose rewards set the normalisation (mean 0, std 1)
    # optimisation
    epochs: int = 1
    max_steps: int = 0  # 0 = run the epochs; else stop after this many optimizer steps
    batch_size: int = 4  # pairs per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1  # share of the steps with a linear warmup
    max_grad_norm: float = 1.0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (autocast; master weights stay fp32); auto: dpo.precision
    gradient_checkpointing: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dist: str = "none"  # none | ddp | fsdp: several processes under torchrun (dpo/distributed.py)
    ref_batch_size: int = 16
    seed: int = 0
    # bookkeeping
    eval_every: int = 25
    save_every: int = 25
    keep_checkpoints: int = 2
    out: str = ""  # run folder; default runs/<strategy>-<timestamp>
    resume: str = ""  # a run folder to continue from its last checkpoint
    wandb: bool = False
    wandb_project: str = "commongood-dpo"
    wandb_run_name: str = ""

    def __post_init__(self):
        from .loss import LOSS_TYPES
        for name in ("data", "eval_data", "lora_targets"):  # tuples from experiment files compare equal to JSON lists
            setattr(self, name, [str(x).strip() for x in getattr(self, name) if str(x).strip()])
        if self.loss not in LOSS_TYPES:
            raise ValueError(f"loss must be one of {LOSS_TYPES}, got {self.loss!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        for name in ("batch_size", "grad_accum", "epochs", "eval_every", "save_every", "ref_batch_size",
                     "keep_checkpoints", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps", "max_train_pairs", "max_eval_pairs", "max_response_length", "lora_dropout",
                     "weight_decay", "sft_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.dist not in ("none", "ddp", "fsdp"):
            raise ValueError(f"dist must be none, ddp or fsdp, got {self.dist!r}")
        if self.dist == "fsdp" and (self.algo != "dpo" or self.precision == "fp16"):
            raise ValueError("--dist fsdp trains DPO in fp32 or bf16; use --dist ddp for rm, ppo and grpo and for fp16 "
                             "(its GradScaler does not handle sharded gradients)")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        self.check_rlhf()

    def check_rlhf(self) -> None:
        """The RLHF settings (rlhf/), refused at start with what to do instead."""
        if self.algo in RL_ALGOS:
            if bool(self.reward_model) == bool(self.reward_fn):
                raise ValueError(f"algo {self.algo} needs one reward: --reward-model RUN_DIR (a run of train.py --algo rm) "
                                 "or --reward-fn module:function" + (", not both" if self.reward_model else ""))
            if self.full_finetune:
                raise ValueError(f"algo {self.algo} uses the policy with its LoRA adapters disabled as the reference; "
                                 "--full-finetune has no adapters to disable")
            if self.lora_dropout > 0:
                raise ValueError(f"algo {self.algo} needs lora_dropout 0: dropout would make the update's log-probs "
                                 "differ from the rollout's")
        elif self.reward_model or self.reward_fn:
            raise ValueError(f"--reward-model and --reward-fn are for --algo ppo or grpo, not {self.algo}")
        if self.algo == "grpo" and self.group_size < 2:
            raise ValueError(f"group_size (G) must be >= 2 for grpo: advantages compare the responses to a prompt, "
                             f"got {self.group_size}")
        for name in ("response_length", "minibatches", "kl_horizon"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("ppo_epochs", "kl_coef", "kl_target", "vf_coef", "eos_penalty"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.rm_norm_samples < 2:
            raise ValueError(f"rm_norm_samples must be >= 2 (a standard deviation), got {self.rm_norm_samples}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 (rollouts sample), got {self.temperature}")
        if self.cliprange <= 0 or self.cliprange_value <= 0:
            raise ValueError(f"cliprange and cliprange_value must be > 0, got {self.cliprange}, {self.cliprange_value}")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError(f"gamma and lam must be in [0, 1], got {self.gamma}, {self.lam}")


def load_experiment(spec: str) -> dict[str, TrainConfig]:
    """Configs of an experiment file: `path.py` (all runs) or `path.py:name` (one run)."""
    path, _, name = spec.partition(":")
    if not Path(path).is_file():
        raise FileNotFoundError(f"experiment file {path} does not exist")
    namespace = runpy.run_path(path)
    runs = dict(namespace.get("runs") or {})
    if "config" in namespace:
        runs.setdefault(Path(path).stem, namespace["config"])
    if not runs:
        raise ValueError(f"{path}: defines neither `config = TrainConfig(...)` nor `runs = {{name: TrainConfig}}`")
    if name:
        if name not in runs:
            raise ValueError(f"{path}: no run named {name!r} (has: {', '.join(runs)})")
        runs = {name: runs[name]}  # the file's other entries may be runs this checkout cannot train
    for key, cfg in runs.items():
        if not isinstance(cfg, TrainConfig):
            raise ValueError(f"{path}: run {key!r} is a {type(cfg).__name__}, not a TrainConfig")
    return runs


def build_parser(description: str = "", choices: dict[str, tuple] | None = None) -> argparse.ArgumentParser:
    """One flag per TrainConfig field (--field-name); defaults are None so that only given flags override.
    `choices` adds accepted values for fields defined above dpo/ (e.g. strategy)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=None, help="experiments/FILE.py[:run] to start from")
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag, kind = "--" + f.name.replace("_", "-"), hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_ = f"(default: {default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif kind == list[str] and f.name == "lora_targets":
            parser.add_argument(flag, type=lambda s: [t for t in s.split(",") if t], default=None,
                                help="comma-separated module names " + help_)
        elif kind == list[str]:
            parser.add_argument(flag, nargs="+", default=None, metavar="FILE", help=help_)
        else:
            from .loss import LOSS_TYPES
            field_choices = {**(choices or {}), "algo": ALGOS, "precision": PRECISION_CHOICES,
                             "loss": LOSS_TYPES, "dist": ("none", "ddp", "fsdp")}.get(f.name)
            parser.add_argument(flag, type=kind, default=None, choices=field_choices, help=help_)
    return parser


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The settings saved in a run folder's config.json."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {run_dir} a run folder?")
    return TrainConfig(**json.loads(path.read_text())["config"])


RESUME_FREE = ("resume", "wandb", "wandb_project", "wandb_run_name", "device", "cache_dir")  # change no numbers


def resume_conflicts(saved: TrainConfig, settings: dict) -> list[str]:
    """Names of `settings` that differ from the saved run's and that a resumed run may not change."""
    return [k for k, v in settings.items() if k not in RESUME_FREE and v != getattr(saved, k)]


def resumed(saved: TrainConfig, run_dir: str, settings: dict) -> TrainConfig:
    """The saved settings, continuing in run_dir, with the free fields of `settings` applied."""
    free = {k: v for k, v in settings.items() if k in RESUME_FREE}
    return dataclasses.replace(saved, **{**free, "resume": str(run_dir)})


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The experiment file's config (or the defaults), overridden by every flag given.
    With --resume, the saved run's settings, which given flags may not change."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None}
    if args.resume:
        saved = read_run_config(args.resume)
        if args.config:
            raise ValueError("--resume continues a run with its saved settings; drop --config")
        differ = resume_conflicts(saved, given)
        if differ:
            raise ValueError(f"--resume {args.resume}: a resumed run keeps its saved settings; these flags differ: "
                             f"{', '.join(differ)}")
        return resumed(saved, args.resume, given)
    base = TrainConfig()
    if args.config:
        runs = load_experiment(args.config)
        if len(runs) != 1:
            raise ValueError(f"{args.config} defines {len(runs)} runs ({', '.join(runs)}); pick one with FILE.py:NAME")
        base = next(iter(runs.values()))
    return dataclasses.replace(base, **given)
