"""The evaluation of a base model and its adapters: every suite, every metric, one results dict.

For each model (the base, then each adapter loaded onto a fresh copy of the base):
  forced choice   (eval/scoring.py) on compliance, fact, rigidity and bias items -> eval/metrics.py
  open generation (dpo.sampling.generate) greedy and sampled with a fixed seed     -> eval/proxies.py (+ judge)
  drift           (eval/drift.py) KL from the base and perplexity on neutral text
  held-out pairs  (eval/heldout.py) DPO reward accuracy and margin on each strategy's test pairs (adapters only)
"""
from __future__ import annotations

import dataclasses
import glob
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from dpo.data import PreferencePair, read_pairs
from dpo.lora import load_adapter
from dpo.models import load_model
from dpo.sampling import generate
from eval.drift import drift
from eval.heldout import preference_metrics
from eval.judge import JudgeConfig, judge_answers
from eval.metrics import Estimate, bias_metrics, choice_metrics, mean_ci
from eval.proxies import open_metrics
from eval.scoring import VARIANTS, ScoringConfig, score_items
from eval.suites import CHOICE_KINDS, Item, read_suites, select


@dataclass
class EvalConfig:
    model: str = "smollm2-135m"
    cache_dir: str = ""
    adapters: list[str] = field(default_factory=list)  # adapter folders, or run folders holding adapter/
    runs: list[str] = field(default_factory=list)  # glob patterns of run folders
    suites: list[str] = field(default_factory=list)  # empty: the project suites (exposure.builder.ensure_built)
    test_pairs: list[str] = field(default_factory=list)  # NAME=FILE; empty: exposure test (+ legends test if built)
    out: str = "reports/eval"  # /reports/ is git-ignored
    seed: int = 0
    limit: int = 20  # items per kind (a seeded sample; bias pairs kept whole); 0 = all. 20: a base run < 10 min on 2 busy cores
    max_test_pairs: int = 48  # per pair set; 0 = all
    precision: str = "bf16"
    batch_size: int = 16
    max_new_tokens: int = 64  # open generation
    temperature: float = 0.7  # the sampled pass (the other pass is greedy)
    top_p: float = 0.9
    beta: float = 0.1  # for reward margins, when a run's config.json does not give its own
    judge_url: str = ""
    judge_model: str = "default"
    judge_key_env: str = "COMMONGOOD_JUDGE_KEY"
    wandb: bool = False
    wandb_project: str = "commongood-dpo"


def adapter_folder(path: str) -> Path:
    """An adapter folder (has adapter_config.json) or a run folder with one in adapter/."""
    p = Path(path)
    for candidate in (p, p / "adapter"):
        if (candidate / "adapter_config.json").is_file():
            return candidate
    raise FileNotFoundError(f"{path}: neither an adapter folder (adapter_config.json) nor a run folder with adapter/")


def model_list(cfg: EvalConfig) -> list[tuple[str, Path | None]]:
    """[(name, adapter folder or None)]: the base first, then each adapter (named after its run folder)."""
    paths = list(cfg.adapters) + [p for pattern in cfg.runs for p in sorted(glob.glob(pattern))]
    out: list[tuple[str, Path | None]] = [("base", None)]
    for path in paths:
        folder = adapter_folder(path)
        name = folder.parent.name if folder.name == "adapter" else folder.name
        while name in {n for n, _ in out}:
            name += "'"
        out.append((name, folder))
    return out


def project_suites() -> list[Path]:
    from exposure.builder import ensure_built
    built = ensure_built()
    return [Path(p) for key, p in sorted(built.items()) if key.startswith("suite_")]


def project_pair_sets() -> dict[str, Path]:
    from exposure.builder import ensure_built
    from dpo.run import LEGENDS_FILE
    sets = {"exposure": Path(ensure_built()["test"])}
    if LEGENDS_FILE.exists():
        from legends.pairs import ensure_pairs
        sets["legends"] = Path(ensure_pairs(LEGENDS_FILE, LEGENDS_FILE.parent / "pairs")["test"])
    return sets


def pair_sets(cfg: EvalConfig) -> dict[str, list[PreferencePair]]:
    """{name: a seeded sample of at most max_test_pairs test pairs}."""
    files: dict[str, Path] = {}
    for spec in cfg.test_pairs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--test-pairs takes NAME=FILE, got {spec!r}")
        files[name] = Path(path)
    out = {}
    for name, path in (files or project_pair_sets()).items():
        pairs, _ = read_pairs(path)
        if 0 < cfg.max_test_pairs < len(pairs):
            pairs = random.Random(cfg.seed).sample(pairs, cfg.max_test_pairs)
        out[name] = pairs
    return out


def run_beta(adapter: Path, default: float) -> float:
    """The beta the run was trained with (run folder's config.json), else `default`."""
    config = adapter.parent / "config.json"
    if adapter.name == "adapter" and config.is_file():
        return float(json.loads(config.read_text()).get("config", {}).get("beta", default))
    return default


def plain(obj):
    """Estimates and nested containers -> JSON-ready values."""
    if isinstance(obj, Estimate):
        return obj.to_json()
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def evaluate_model(model, tokenizer, items: list[Item], pairs: dict[str, list[PreferencePair]], cfg: EvalConfig,
                   *, adapter: Path | None = None) -> dict:
    """Every metric of one model (see the module docstring), JSON-ready."""
    start = time.time()
    out: dict = {"adapter": str(adapter) if adapter else None}
    choice = [item for item in items if item.kind in CHOICE_KINDS]
    if choice:
        scores = score_items(model, tokenizer, choice, ScoringConfig(cfg.batch_size, cfg.precision))
        out["choice"] = {v: choice_metrics(choice, scores, variant=v, seed=cfg.seed) for v in VARIANTS}
        out["bias"] = {v: bias_metrics(choice, scores, variant=v, seed=cfg.seed) for v in VARIANTS}
        out["scores"] = [dict(s.to_json(), kind=item.kind, suite=item.suite) for item, s in zip(choice, scores)]
    opens = [item for item in items if item.kind == "open"]
    if opens:
        out["open"], out["answers"] = open_generation(model, tokenizer, opens, cfg)
    out["drift"] = drift(model, tokenizer, precision=cfg.precision)
    if adapter is not None:
        beta = run_beta(adapter, cfg.beta)
        out["heldout"] = {name: dict(preference_metrics(model, tokenizer, p, beta=beta, precision=cfg.precision,
                                                        seed=cfg.seed, desc=f"{name} test pairs"), beta=beta)
                          for name, p in pairs.items()}
    out["seconds"] = time.time() - start
    return plain(out)


def open_generation(model, tokenizer, items: list[Item], cfg: EvalConfig) -> tuple[dict, list[dict]]:
    """Greedy and sampled answers to the open items, their proxies (and the judge's rate, with --judge-url)."""
    prompts = [item.prompt for item in items]
    metrics, texts = {}, {}
    for mode, temperature in (("greedy", 0.0), ("sampled", cfg.temperature)):
        bar = tqdm(total=len(prompts), desc=f"open ({mode})", unit="prompt", leave=False)
        texts[mode] = generate(model, tokenizer, prompts, max_new_tokens=cfg.max_new_tokens, temperature=temperature,
                               top_p=cfg.top_p if temperature else 1.0, seed=cfg.seed, batch_size=cfg.batch_size,
                               precision=cfg.precision, progress=bar.update)
        bar.close()
        metrics[mode] = open_metrics(texts[mode], [item.meta for item in items], seed=cfg.seed)
        if cfg.judge_url:
            verdicts = judge_answers(JudgeConfig(cfg.judge_url, cfg.judge_model, cfg.judge_key_env), prompts, texts[mode])
            metrics[mode]["judge_common_good"] = mean_ci([v for v in verdicts if v is not None], seed=cfg.seed)
    answers = [{"id": item.id, **{mode: texts[mode][i] for mode in texts}} for i, item in enumerate(items)]
    return metrics, answers


def run(cfg: EvalConfig) -> dict:
    """Evaluate the base model and every adapter on the suites; returns the results dict."""
    torch.manual_seed(cfg.seed)
    suite_paths = [Path(p) for p in cfg.suites] or project_suites()
    items = select(read_suites(suite_paths), cfg.limit, cfg.seed)
    models = model_list(cfg)
    pairs = pair_sets(cfg) if len(models) > 1 else {}
    results: dict = {"config": dataclasses.asdict(cfg), "suites": [str(p) for p in suite_paths],
                     "items": {kind: sum(item.kind == kind for item in items) for kind in sorted({i.kind for i in items})},
                     "test_pairs": {name: len(p) for name, p in pairs.items()}, "models": {}}
    for name, folder in tqdm(models, desc="models", unit="model"):
        model, tokenizer = load_model(cfg.model, cache_dir=cfg.cache_dir or None)
        if folder is not None:
            load_adapter(model, folder)
        results["models"][name] = evaluate_model(model, tokenizer, items, pairs, cfg, adapter=folder)
        del model
    return results
