"""The evaluation of a base model and its adapters: every suite, every metric, one results dict.

For each model (the base, then each adapter loaded onto a fresh copy of the base):
  drift           (eval/drift.py) KL from the base and perplexity on neutral text
  held-out pairs  (eval/heldout.py) DPO reward accuracy and margin on each strategy's test pairs (adapters only;
                  the reference's scores of the pairs are the base's, kept with its results and reused)
  (an adapter is then merged into the weights: the rest needs no reference and runs at the base model's speed)
  forced choice   (eval/scoring.py) on compliance, fact, rigidity, bias and decision items -> per-item records
  open answers    (eval/open.py) generation, embedding judge, forced choice after the answer, proxies (+ LLM judge)
  BBQ             (eval/bbq.py) with --bbq FILE
Then (eval/aggregate.py): runs grouped over seeds, the table's metrics with intervals, the cue-rule rows
(eval/cues.py), paired comparisons with p-values; and the judges' agreement with the hand labels (eval/agreement.py).
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from dpo.data import PreferencePair, read_pairs
from dpo.lora import adapters_disabled, load_adapter, merge_lora
from dpo.models import load_encoder, load_model
from dpo.precision import resolve_precision
from eval import embedding
from eval.aggregate import aggregate
from eval.agreement import LABELS_FILE, label_agreement, llm_agreement, read_labels
from eval.bbq import bbq_items, bbq_scores, read_bbq
from eval.cues import classifier_scores, cue_scores, token_counter
from eval.drift import drift
from eval.heldout import preference_metrics, score_pairs
from eval.judge import JudgeConfig, rate_answers
from eval.metrics import bias_details, decision_details, item_record
from eval.open import OpenConfig, answer_open
from eval.scoring import ScoringConfig, score_items
from eval.stats import Estimate, Comparison
from eval.suites import Item, project_suites, read_suites, select


@dataclass
class EvalConfig:
    model: str = "smollm2-135m"
    cache_dir: str = ""
    adapters: list[str] = field(default_factory=list)  # adapter folders, or run folders holding adapter/
    runs: list[str] = field(default_factory=list)  # glob patterns of run folders
    suites: list[str] = field(default_factory=list)  # empty: the hand-written suites, data/eval/*.jsonl
    no_suites: bool = False  # only BBQ (with bbq)
    bbq: str = ""  # a BBQ-format JSONL file
    bbq_limit: int = 0  # a seeded sample of BBQ examples; 0 = all
    training_data: bool = True  # read the strategies' training pairs: cue classifier control, fact seen/unseen
    labels: str = ""  # hand-labelled answers for the judges' agreement; empty: data/eval/judge_labels.jsonl with the project suites
    test_pairs: list[str] = field(default_factory=list)  # NAME=FILE; empty: project_pair_sets('test')
    out: str = "reports/eval"  # /reports/ is git-ignored
    seed: int = 0
    limit: int = 20  # items per kind (a seeded sample; pairs kept whole); 0 = all (the study setting)
    max_test_pairs: int = 48  # per pair set; 0 = all
    precision: str = "auto"  # resolved for the CPU by run() (dpo.precision)
    batch_size: int = 16
    max_new_tokens: int = 256  # open generation
    sampled: bool = False  # also a sampled pass of the open answers (proxies only)
    temperature: float = 0.7
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


def policy_runs(pattern: str) -> list[str]:
    """The run folders matching a glob pattern, without reward-model runs (reward_model/, no adapter/: they
    score answers, they do not write them), each skipped with a note."""
    out = []
    for path in sorted(glob.glob(pattern)):
        if (Path(path) / "reward_model").is_dir() and not (Path(path) / "adapter").is_dir():
            print(f"{path}: a reward model's run, not evaluated (no adapter/)", file=sys.stderr)
            continue
        out.append(path)
    return out


def model_list(cfg: EvalConfig) -> list[tuple[str, Path | None]]:
    """[(name, adapter folder or None)]: the base first, then each adapter (named after its run folder)."""
    paths = list(cfg.adapters) + [p for pattern in cfg.runs for p in policy_runs(pattern)]
    out: list[tuple[str, Path | None]] = [("base", None)]
    for path in paths:
        folder = adapter_folder(path)
        name = folder.parent.name if folder.name == "adapter" else folder.name
        while name in {n for n, _ in out}:
            name += "'"
        out.append((name, folder))
    return out


def project_pair_sets(split: str = "test") -> dict[str, Path]:
    """{strategy: its default pair file of `split`}: the hand-written exposure pairs (they have no test split: their
    validation split, never trained on, stands in) and the authored legends' pairs."""
    from legends.pairs import ensure_pairs
    from strategies import AUTHORED_EXPOSURE, AUTHORED_LEGENDS
    exposure = AUTHORED_EXPOSURE / f"{'validation' if split == 'test' else split}.jsonl"
    return {"exposure": exposure, "legends": Path(ensure_pairs(AUTHORED_LEGENDS)[split])}


def training_pairs(cfg: EvalConfig, items: list[Item]) -> dict[str, list[PreferencePair]]:
    """{strategy: its training pairs} when cfg.training_data and some item has a correct option, else {}."""
    if not cfg.training_data or not any(i.answer >= 0 for i in items):
        return {}
    return {name: read_pairs(path)[0] for name, path in project_pair_sets("train").items()}


def cue_controls(items: list[Item], tokenizer, training: dict[str, list[PreferencePair]]) -> dict[str, dict[str, float]]:
    """Per item, the score of every cue rule, and of the cue audit's classifier trained on each strategy's
    training pairs (when there are some and the audit is installed)."""
    return cue_scores(items, token_counter(tokenizer)) | (classifier_scores(items, training) if training else {})


def mark_seen(items: list[Item], training: dict[str, list[PreferencePair]]) -> None:
    """Fact items without meta.seen get it: whether their obligation (meta.rule, "regulation/obligation") is the
    rule of some training pair (the pairs' meta.rule); left unset when no training pair names its rule."""
    rules = {p.meta.get("rule") for pairs in training.values() for p in pairs} - {None}
    if rules:
        for item in items:
            if item.kind == "fact" and "seen" not in item.meta and item.meta.get("rule"):
                item.meta["seen"] = item.meta["rule"] in rules


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
    """Estimates, comparisons and nested containers -> JSON-ready values."""
    if isinstance(obj, (Estimate, Comparison)):
        return obj.to_json()
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def judge_config(cfg: EvalConfig) -> JudgeConfig | None:
    return JudgeConfig(cfg.judge_url, cfg.judge_model, cfg.judge_key_env) if cfg.judge_url else None


def evaluate_model(model, tokenizer, items: list[Item], bbq: list, pairs: dict[str, list[PreferencePair]],
                   cfg: EvalConfig, *, encoder=None, adapter: Path | None = None,
                   references: dict[str, list] | None = None) -> dict:
    """Every metric of one model (see the module docstring), JSON-ready.
    references: {pair set: the base's log-probs of its test pairs}: the base scores them (and keeps them in its
    results, "pair_logps"); an adapter scores those missing under adapters_disabled; both fill the dict for the
    next adapters (the base is the same for all)."""
    start = time.time()
    out: dict = {"adapter": str(adapter) if adapter else None, "records": [], "stage_seconds": {}}

    def lap(stage: str) -> None:  # seconds since the last lap, per stage (where an evaluation's time goes)
        out["stage_seconds"][stage] = round(time.time() - start - sum(out["stage_seconds"].values()), 1)

    if items:
        out["drift"] = drift(model, tokenizer, precision=cfg.precision)
        lap("drift")
    references = {} if references is None else references
    missing = [name for name in pairs if name not in references]
    if missing:
        with adapters_disabled(model) if adapter is not None else contextlib.nullcontext():
            for name in missing:
                references[name] = score_pairs(model, tokenizer, pairs[name], precision=cfg.precision,
                                               desc=f"{name} test pairs (reference)")
        lap("test pairs reference")
    if adapter is None and pairs:
        out["pair_logps"] = {name: references[name] for name in pairs}
    if adapter is not None and pairs:  # the policy unmerged, as in training: the base weights' rounding in bf16
        beta = run_beta(adapter, cfg.beta)  # is then the reference's and cancels from the log-ratio
        out["heldout"] = {name: dict(preference_metrics(score_pairs(model, tokenizer, p, precision=cfg.precision,
                                                                    desc=f"{name} test pairs"),
                                                        references[name], beta=beta, seed=cfg.seed), beta=beta)
                          for name, p in pairs.items()}
        lap("test pairs policy")
    if adapter is not None:  # the rest runs the tuned model alone: adapters folded into the weights, no extra matmuls
        merge_lora(model)
    scoring = ScoringConfig(cfg.batch_size, cfg.precision)
    choice = [item for item in items if item.options]
    if choice:
        scores = score_items(model, tokenizer, choice, scoring)
        out["records"] = [item_record(item, s) for item, s in zip(choice, scores)]
        out["truncated_items"] = sum(s.truncated for s in scores)
        out["bias"] = bias_details(out["records"], cfg.seed)
        out["decisions"] = decision_details(out["records"], cfg.seed)
        lap("forced choice")
    opens = [item for item in items if item.kind == "open"]
    if opens:
        open_cfg = OpenConfig(cfg.max_new_tokens, cfg.sampled, cfg.temperature, cfg.top_p, cfg.seed, cfg.batch_size,
                              cfg.precision)
        out["open"], records = answer_open(model, tokenizer, opens, open_cfg, encoder=encoder, judge=judge_config(cfg))
        out["records"] += records
        lap("open answers")
    if bbq:
        predictions = [s.choice("mean") for s in score_items(model, tokenizer, bbq_items(bbq), scoring, desc="BBQ")]
        out["bbq"] = dict(bbq_scores(bbq, predictions, cfg.seed), predictions=predictions)
        lap("bbq")
    out["seconds"] = time.time() - start
    return plain(out)


def judges_agreement(cfg: EvalConfig, encoder, open_items: list[Item]) -> dict:
    """The embedding judge's (and the LLM judge's) agreement with the hand-labelled answers."""
    path = Path(cfg.labels) if cfg.labels else LABELS_FILE  # the project's labels go with the project's suites
    if not path.is_file() or (not cfg.labels and cfg.suites):
        if cfg.labels:
            raise FileNotFoundError(f"{path}: no label file")
        return {}
    rows = read_labels(path, open_items)
    out: dict = {"file": str(path), "answers": len(rows)}
    verdicts = embedding.judge(*encoder, [r.answer for r in rows], [r.good for r in rows], [r.easy for r in rows])
    out["embedding"] = label_agreement([r.recommends for r in rows], [v.label for v in verdicts])
    judge = judge_config(cfg)
    if judge is not None:
        rated = rate_answers(judge, [r.prompt for r in rows], [r.answer for r in rows], [r.good for r in rows],
                             [r.easy for r in rows])
        out["llm"] = llm_agreement(rows, rated)
    return out


def run(cfg: EvalConfig, done: dict[str, dict] | None = None,
        on_model: Callable[[str, dict, dict], None] | None = None) -> dict:
    """Evaluate the base model and every adapter; returns the results dict.
    done: {model name: its results from an earlier evaluation}, used as they are (not evaluated again);
    on_model(name, its results, the results so far) is called as soon as each model is evaluated, so a caller
    can keep every finished model (an interrupted evaluation loses at most the model it was scoring)."""
    done = done or {}
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, "cpu"))  # the models load on the CPU
    torch.manual_seed(cfg.seed)
    suite_paths = [] if cfg.no_suites else [Path(p) for p in cfg.suites] or project_suites()
    every_item = read_suites(suite_paths)
    items = select(every_item, cfg.limit, cfg.seed)
    bbq = read_bbq(cfg.bbq) if cfg.bbq else []
    if 0 < cfg.bbq_limit < len(bbq):
        bbq = [bbq[i] for i in sorted(random.Random(cfg.seed).sample(range(len(bbq)), cfg.bbq_limit))]
    if not items and not bbq:
        raise ValueError("nothing to evaluate: give suites (--suite) or a BBQ file (--bbq)")
    models = model_list(cfg)
    pairs = pair_sets(cfg) if len(models) > 1 and items else {}
    training = training_pairs(cfg, items)
    mark_seen(items, training)
    encoder = load_encoder(cfg.cache_dir or None) if any(i.kind == "open" for i in items) else None
    results: dict = {"config": dataclasses.asdict(cfg), "suites": [str(p) for p in suite_paths],
                     "items": {kind: sum(item.kind == kind for item in items) for kind in sorted({i.kind for i in items})},
                     "test_pairs": {name: len(p) for name, p in pairs.items()},
                     "training_pairs": {name: len(p) for name, p in training.items()}, "models": {}}
    if encoder is not None or cfg.labels:  # the judges' agreement with the hand labels: no tuned model involved
        results["judge_agreement"] = judges_agreement(cfg, encoder or load_encoder(cfg.cache_dir or None),
                                                      [i for i in every_item if i.kind == "open"])
    if bbq:
        results["bbq"] = {"file": cfg.bbq, "examples": len(bbq)}
    stored = done.get("base", {}).get("pair_logps", {})  # the base's log-probs of the test pairs, for the adapters
    references = {name: stored[name] for name in pairs if len(stored.get(name, ())) == len(pairs[name])}
    for name, folder in tqdm(models, desc="models", unit="model"):
        if name in done:
            results["models"][name] = done[name]
            continue
        model, tokenizer = load_model(cfg.model, cache_dir=cfg.cache_dir or None)
        if folder is not None:
            load_adapter(model, folder)
        if "cue_scores" not in results:  # the tokenizer's, the same for every model
            results["cue_scores"] = cue_controls(items, tokenizer, training)
        results["models"][name] = evaluate_model(model, tokenizer, items, bbq, pairs, cfg, encoder=encoder,
                                                   adapter=folder, references=references)
        del model
        if on_model is not None:
            on_model(name, results["models"][name], results)
    base = results["models"]["base"]
    if pairs and "pair_logps" not in base and len(references) == len(pairs):  # a base evaluated before they were kept
        base["pair_logps"] = dict(references)
        if on_model is not None:
            on_model("base", base, results)
    if "cue_scores" not in results:  # every model was done
        results["cue_scores"] = cue_controls(items, load_model(cfg.model, cache_dir=cfg.cache_dir or None)[1], training)
    results.update(aggregate(results["models"], results["cue_scores"], cfg.seed))
    if bbq:
        results["bbq"]["models"] = {n: {k: v for k, v in m["bbq"].items() if k != "predictions"}
                                    for n, m in results["models"].items()}
    return results
