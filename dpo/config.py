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

ALGOS = ("dpo",)


@dataclass
class TrainConfig:
    # data
    # which pair files a strategy means is resolved above dpo/ (strategies.py); dpo/ only records these
    strategy: str = "exposure"  # exposure | legends | mixed
    mix: float = 0.5  # with strategy=mixed: fraction of legends pairs
    citations: str = "balanced"  # exposure pairs: balanced (as often on the rejected side) | none
    proportionality: float = 0.2  # exposure pairs: share where the pragmatic answer is right
    legends_source: str = "authored"  # authored | generated | a legends .jsonl file
    legends_format: str = "story"  # story | advice | story+advice
    data: list[str] = field(default_factory=list)  # training pair files (override the strategy's)
    eval_data: list[str] = field(default_factory=list)  # held-out pair files (default: the strategy's validation)
    max_train_pairs: int = 256  # a seeded sample of this many (default sized for ~15 min on 2 CPU cores); 0 = all
    max_eval_pairs: int = 32
    max_length: int = 384  # prompt + response tokens
    max_prompt_length: int = 256  # a longer prompt keeps its end
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
    # optimisation
    epochs: int = 1
    max_steps: int = 0  # 0 = run the epochs; else stop after this many optimizer steps
    batch_size: int = 4  # pairs per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1  # share of the steps with a linear warmup
    max_grad_norm: float = 1.0
    precision: str = "bf16"  # fp32 | bf16 | fp16 (autocast; master weights stay fp32)
    gradient_checkpointing: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N
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
        for name in ("max_steps", "max_train_pairs", "max_eval_pairs", "lora_dropout", "weight_decay", "sft_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


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
            field_choices = {**(choices or {}), "algo": ALGOS, "precision": ("fp32", "bf16", "fp16"),
                             "loss": LOSS_TYPES}.get(f.name)
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
