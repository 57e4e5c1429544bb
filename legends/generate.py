"""The legend loop: specs -> a legend -> filters -> its counter-legend -> filters -> append the record.

Each spec yields two prompts (legends.prompts): the legend, and, once the legend has passed the filters, the
counter-legend, asked for the legend's length in words, and held to the length ratio while it is written: its
end of turn is ruled out before legend tokens / max_length_ratio, and it is cut at legend tokens x
max_length_ratio. A text cut at its token limit keeps its complete sentences (its token count scaled by the
characters kept). A counter that fails is written again (another seed), up to counter_attempts times, since
the legend (the costlier side to get right) is already there. A record is kept only when both pass. Counters
go before new legends, so a spec's two texts are written close together; the backend is kept full (continuous
batching), texts that cannot pass are stopped early (filters.early), and rejections are counted per side and
reason ("legend:rule_not_named", "counter:length_ratio", ...).

Record: {"id", "index", "spec" (with regulation_id, obligation_key, domain: what legends.pairs matches on),
"text", "counter", "prompts" ({"legend", "counter": the user requests, "few_shot": the example ids}),
"sampling", "scores" ({"legend": {filter: score, "tokens"}, "counter": {..., "length_ratio"}})}.
legends.pairs.read_legend_records reads it.

Nothing is lost and nothing is doubled:
  - each kept record is appended as one JSON line and flushed at once;
  - running again with the same --out reads the kept legends (a torn last line from a crash is cut off),
    skips every spec index already used, and continues until exactly n are kept; ids are "s{seed}-{index}",
    so a resumed run never writes an id twice;
  - Ctrl-C stops at once (texts in progress are dropped, their spec indices skipped); the stats file is
    written on the way out.
The stats file (OUT with suffix .stats.json) holds counts summed over every run: attempted (legends written),
kept, rejections per side and reason ("record:no_counter_passed" when every counter of a passing legend
failed), abandoned (passing legends whose counters were unfinished when a run stopped), so that
attempted = kept + legend rejections + record:no_counter_passed + abandoned; the next spec index, and the last
run's speed.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from dpo.files import write_text
from legends import filters
from legends.backends import Job, Result, Sampling
from legends.prompts import LegendSpec, few_shot, messages, read_examples, spec, word_target

SAVE_EVERY = 30.0  # seconds between writes of the stats file during a run


@dataclass
class GenerateConfig:
    n: int = 5000
    out: str = "data/legends/legends.jsonl"
    backend: str = "local"  # local | openai
    model: str = "smollm2-135m"
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 320  # a legend's token limit (a counter's: max_length_ratio x its legend's tokens)
    words: int = 150  # the length asked of a legend (a counter is asked for its legend's)
    seed: int = 0
    batch_size: int = 48  # local: rows decoded at once (continuous batching)
    concurrency: int = 8  # openai: requests in flight
    counter_attempts: int = 3  # counters written for a legend that passed, until one passes (at most 15)
    few_shot: int = -1  # authored examples before each request; -1: 2 for local, 0 for openai
    few_shot_source: str = "data/legends/authored.jsonl"
    cache_dir: str = ""
    patience: int = 500  # give up after this many legends in a row without a kept record

    def __post_init__(self):
        if not 1 <= self.counter_attempts <= 15:
            raise ValueError(f"counter_attempts must be in [1, 15], got {self.counter_attempts}")

    def shots(self) -> int:
        return self.few_shot if self.few_shot >= 0 else 2 if self.backend == "local" else 0


def stats_path(out: str | os.PathLike) -> Path:
    return Path(out).with_suffix(".stats.json")


def read_legends(path: Path) -> list[dict]:
    """Kept legends of a previous run. A torn last line (a crash mid-write) is cut off the file; a bad line
    elsewhere is an error naming the file and line."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = []
    for lineno, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if lineno < len(lines):
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg}); fix or remove that line") from None
            with open(path, "r+", encoding="utf-8") as f:
                f.truncate(sum(len(x.encode()) for x in lines[:-1]))
            return rows
    if lines and not lines[-1].endswith("\n"):  # a whole record whose newline was not written yet
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n")
    return rows


def make_backend(cfg: GenerateConfig):
    from legends.backends import LocalBackend, OpenAIBackend
    if cfg.backend == "local":
        return LocalBackend(cfg.model, cache_dir=cfg.cache_dir or None, batch_size=cfg.batch_size)
    if cfg.backend == "openai":
        return OpenAIBackend(cfg.base_url, cfg.model, api_key_env=cfg.api_key_env, concurrency=cfg.concurrency)
    raise ValueError(f"backend must be local or openai, got {cfg.backend!r}")


def run(cfg: GenerateConfig, backend=None, regulations=None, fcfg: filters.FilterConfig = filters.FilterConfig()) -> dict:
    """Generate until cfg.n records are kept in cfg.out; returns the stats (also written beside cfg.out)."""
    if regulations is None:
        from exposure.corpus import load_regulations
        regulations = load_regulations()
    examples = read_examples(cfg.few_shot_source) if cfg.shots() else []
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept_rows = read_legends(out)
    dedup = {"legend": filters.NearDuplicates(), "counter": filters.NearDuplicates()}
    for row in kept_rows:
        dedup["legend"].add(row["text"])
        dedup["counter"].add(row["counter"])
    old = json.loads(stats_path(out).read_text()) if stats_path(out).exists() else {}
    rejected = Counter(old.get("rejected", {}))
    attempted, abandoned = old.get("attempted", 0), old.get("abandoned", 0)
    rejected_examples = dict(old.get("rejected_examples", {}))  # reason -> the first rejected text (cut), to tune filters
    index = max([old.get("next_index", 0)] + [row["index"] + 1 for row in kept_rows])
    sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
    record = {"backend": cfg.backend, "model": cfg.model, **asdict(sampling), "words": cfg.words,
              "few_shot": cfg.shots(), "seed": cfg.seed}
    for lineno, row in enumerate(kept_rows, 1):  # one file, one writer: never mix models in a legends source
        if (row["sampling"].get("backend"), row["sampling"].get("model")) != (cfg.backend, cfg.model):
            raise ValueError(f"{out}:{lineno}: written by {row['sampling'].get('model')} "
                             f"({row['sampling'].get('backend')}), this run is {cfg.model} ({cfg.backend}): "
                             f"give it another --out")
    backend = backend or (make_backend(cfg) if len(kept_rows) < cfg.n else None)
    kept, start, run_attempts, interrupted, barren = len(kept_rows), time.time(), 0, False, 0
    run_tokens = 0  # new tokens the backend wrote this run, kept or not: what the machine's speed is measured on
    saved = start
    counters: deque[Job] = deque()  # counter-legends of legends that passed, asked before new legends
    pending: dict[str, tuple] = {}  # spec id -> its legend's (text, tokens, scores, job), while counters are written

    def stats() -> dict:
        minutes = (time.time() - start) / 60
        return {"n": cfg.n, "kept": kept, "attempted": attempted, "kept_ratio": round(kept / max(attempted, 1), 4),
                "abandoned": abandoned + len(pending),
                "rejected": dict(rejected.most_common()), "rejected_examples": rejected_examples, "next_index": index,
                "interrupted": interrupted, "gave_up": barren >= cfg.patience,
                "last_run": {"attempted": run_attempts, "kept": kept - len(kept_rows), "minutes": round(minutes, 2),
                             "legends_per_minute": round((kept - len(kept_rows)) / max(minutes, 1e-9), 2),
                             "new_tokens": run_tokens, "new_tokens_per_second": round(run_tokens / max(minutes * 60, 1e-9), 1),
                             **record},
                "filters": asdict(fcfg)}

    def job(s: LegendSpec, attempt: int, words: int, limit: int, shots: list[dict]) -> Job:
        """Attempt 0 is the legend, 1.. its counters; each has its own seed."""
        chat = messages(s, "counter" if attempt else "legend", words, shots)
        return Job(key=(s, attempt, shots), messages=chat, seed=(cfg.seed * 1_000_003 + s.index) * 16 + attempt,
                   max_new_tokens=limit, shared=len(chat) - 1, stop=lambda text: filters.early(text, fcfg) is not None)

    def counter_job(s: LegendSpec, attempt: int, legend: tuple[str, int], shots: list[dict]) -> Job:
        """A counter asked for its legend's words, held within max_length_ratio of its legend's tokens."""
        text, tokens = legend
        chat = job(s, attempt, word_target(text), int(tokens * fcfg.max_length_ratio), shots)
        chat.min_new_tokens = math.ceil(tokens / fcfg.max_length_ratio)
        return chat

    def source() -> Job | None:
        nonlocal index
        if counters:
            return counters.popleft()
        if kept >= cfg.n or barren >= cfg.patience:
            return None
        s = spec(index, regulations, cfg.seed)
        index += 1
        return job(s, 0, cfg.words, cfg.max_new_tokens, few_shot(s, examples, cfg.shots()))

    def reject(kind: str, reason: str, text: str) -> None:
        rejected[f"{kind}:{reason}"] += 1
        rejected_examples.setdefault(f"{kind}:{reason}", text[:400])

    bar = tqdm(total=cfg.n, initial=min(kept, cfg.n), desc="legends", unit="legend")
    try:
        with open(out, "a", encoding="utf-8") as f:
            for result in (backend.stream(source, sampling) if kept < cfg.n else ()):
                if time.time() - saved > SAVE_EVERY:  # a hard kill loses at most this much of the counts
                    write_text(stats_path(out), json.dumps(stats(), indent=2) + "\n")
                    saved = time.time()
                s, attempt, shots = result.job.key
                run_tokens += result.tokens
                text, tokens = settle(result)
                prompts = [m["content"] for m in result.job.messages]
                if attempt == 0:  # a legend
                    attempted, run_attempts = attempted + 1, run_attempts + 1
                    reason, scores = verdict(result.finish, text, tokens, prompts, s, dedup["legend"], fcfg, None)
                    if reason != "ok":
                        reject("legend", reason, text or result.text)
                        barren += 1
                        continue
                    pending[s.id] = (text, tokens, scores, result.job)
                    counters.append(counter_job(s, 1, (text, tokens), shots))
                    continue
                legend_text, legend_tokens, legend_scores, legend_job = pending[s.id]
                reason, scores = verdict(result.finish, text, tokens, prompts, s, dedup["counter"], fcfg, legend_tokens)
                if reason != "ok":
                    reject("counter", reason, text or result.text)
                    if attempt < cfg.counter_attempts:
                        counters.append(counter_job(s, attempt + 1, (legend_text, legend_tokens), shots))
                    else:
                        del pending[s.id]
                        rejected["record:no_counter_passed"] += 1
                        barren += 1
                    continue
                del pending[s.id]
                row = {"id": s.id, "index": s.index, "spec": s.to_json(), "text": legend_text, "counter": text,
                       "prompts": {"legend": legend_job.messages[-1]["content"],
                                   "counter": result.job.messages[-1]["content"], "few_shot": [e["id"] for e in shots]},
                       "sampling": record,
                       "scores": {"legend": {**legend_scores, "tokens": legend_tokens},
                                  "counter": {**scores, "tokens": tokens}}}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                dedup["legend"].add(legend_text)
                dedup["counter"].add(text)
                kept, barren = kept + 1, 0
                bar.update(1)
                new = kept - len(kept_rows)
                bar.set_postfix(kept_ratio=f"{new / max(run_attempts, 1):.2f}",
                                per_min=f"{new / max((time.time() - start) / 60, 1e-9):.1f}")
                if kept >= cfg.n:
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    final = stats()
    write_text(stats_path(out), json.dumps(final, indent=2) + "\n")
    return final


def settle(result: Result) -> tuple[str, int]:
    """A result's text and token count; cut at its token limit, the text keeps its complete sentences and the
    count is scaled by the characters kept."""
    text = result.text.strip()
    if result.finish != "length" or not text:
        return text, result.tokens
    kept = filters.whole_sentences(text)
    return kept, round(result.tokens * len(kept) / len(text))


def verdict(finish: str, text: str, tokens: int, prompts: list[str], s: LegendSpec, kept: filters.NearDuplicates,
            fcfg: filters.FilterConfig, legend_tokens: int | None) -> tuple[str, dict]:
    """The filters' verdict on a legend (legend_tokens None) or a counter, given how its writing ended."""
    if finish == "stopped":
        return filters.early(text, fcfg) or "stopped", {}
    if not text:
        return ("unfinished" if finish == "length" else "too_short"), {}
    rule = dict(regulation=s.regulation, number=s.number, obligation=s.obligation, kept=kept, cfg=fcfg)
    if legend_tokens is None:
        return filters.check(text, prompts=prompts, **rule)
    return filters.check_counter(text, tokens=tokens, legend_tokens=legend_tokens, prompts=prompts, **rule)
