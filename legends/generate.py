"""The legend loop: specs -> backend -> filters -> append each kept legend to the output file.

Nothing is lost and nothing is doubled:
  - each kept legend is appended as one JSON line and flushed at once;
  - running again with the same --out reads the kept legends (a torn last line from a crash is cut off),
    skips every spec index already used, and continues until exactly n are kept; ids are "s{seed}-{index}",
    so a resumed run never writes an id twice;
  - Ctrl-C stops between batches' legends; the stats file is written on the way out.
The stats file (OUT with suffix .stats.json) holds counts summed over every run: attempted, kept, rejections
per reason, the next spec index, and the last run's speed.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from dpo.files import write_text
from legends import filters
from legends.backends import Sampling
from legends.prompts import prompt, spec


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
    max_new_tokens: int = 256
    seed: int = 0
    batch_size: int = 48  # prompts per backend call (local: the sampling batch; 48 measured >= 500 tokens/s)
    concurrency: int = 8  # openai: parallel requests
    cache_dir: str = ""
    patience: int = 50  # give up after this many backend calls in a row without a kept legend


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
    """Generate until cfg.n legends are kept in cfg.out; returns the stats (also written beside cfg.out)."""
    if regulations is None:
        from exposure.corpus import load_regulations
        regulations = load_regulations()
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept_rows = read_legends(out)
    seen = {row["id"] for row in kept_rows}
    dedup = filters.NearDuplicates()
    for row in kept_rows:
        dedup.add(row["text"])
    old = json.loads(stats_path(out).read_text()) if stats_path(out).exists() else {}
    rejected = Counter(old.get("rejected", {}))
    attempted = old.get("attempted", 0)
    examples = dict(old.get("rejected_examples", {}))  # reason -> the first rejected text (cut), to tune filters
    index = max([old.get("next_index", 0)] + [row["index"] + 1 for row in kept_rows])
    sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
    record = {"backend": cfg.backend, "model": cfg.model, **asdict(sampling), "seed": cfg.seed}
    backend = backend or (make_backend(cfg) if len(kept_rows) < cfg.n else None)
    kept, start, run_attempts, interrupted, barren = len(kept_rows), time.time(), 0, False, 0

    def stats() -> dict:
        minutes = (time.time() - start) / 60
        return {"n": cfg.n, "kept": kept, "attempted": attempted, "kept_ratio": round(kept / max(attempted, 1), 4),
                "rejected": dict(rejected.most_common()), "rejected_examples": examples, "next_index": index,
                "interrupted": interrupted, "gave_up": barren >= cfg.patience,
                "last_run": {"attempted": run_attempts, "kept": kept - len(kept_rows), "minutes": round(minutes, 2),
                             "legends_per_minute": round((kept - len(kept_rows)) / max(minutes, 1e-9), 2), **record},
                "filters": asdict(fcfg)}

    bar = tqdm(total=cfg.n, initial=min(kept, cfg.n), desc="legends", unit="legend")
    try:
        with open(out, "a", encoding="utf-8") as f:
            while kept < cfg.n and barren < cfg.patience:
                before = kept
                specs = [spec(i, regulations, cfg.seed) for i in range(index, index + cfg.batch_size)]
                specs = [s for s in specs if s.id not in seen]
                texts = backend.complete([prompt(s) for s in specs], sampling, seed=cfg.seed * 1_000_003 + index) if specs else []
                index += cfg.batch_size
                for s, text in zip(specs, texts):
                    if kept >= cfg.n:
                        break
                    attempted, run_attempts = attempted + 1, run_attempts + 1
                    text = text.strip()
                    reason, scores = filters.check(text, prompt=prompt(s), regulation=s.regulation,
                                                   number=s.number, obligation=s.obligation,
                                                   kept=dedup, cfg=fcfg)
                    if reason != "ok":
                        rejected[reason] += 1
                        examples.setdefault(reason, text[:400])
                        continue
                    row = {"id": s.id, "index": s.index, "text": text, "spec": s.to_json(), "prompt": prompt(s),
                           "sampling": record, "scores": scores}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    f.flush()
                    seen.add(s.id)
                    dedup.add(text)
                    kept += 1
                    bar.update(1)
                barren = 0 if kept > before else barren + 1
                new = kept - len(kept_rows)
                bar.set_postfix(kept_ratio=f"{new / max(run_attempts, 1):.2f}",
                                per_min=f"{new / max((time.time() - start) / 60, 1e-9):.1f}")
                write_text(stats_path(out), json.dumps(stats(), indent=2) + "\n")  # a hard kill loses at most one batch of counts
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    final = stats()
    write_text(stats_path(out), json.dumps(final, indent=2) + "\n")
    return final
