"""Where legends are written: a backend turns a stream of Jobs (chat prompts) into a stream of Results.

  local   the model in-process through dpo.sampling.decode_stream: continuous batching (a finished row takes
          the next job at once), the jobs' shared first turns (few-shot examples) computed once, and a job's
          `stop` callback asked every few tokens so that a text that cannot pass the filters is cut short
  openai  any OpenAI-compatible /v1/chat/completions server (vLLM, llama.cpp server, Ollama): up to
          `concurrency` requests in flight in threads, each with a timeout and retries with exponential
          backoff. The API key is read from an environment variable, sent as a Bearer header, and never
          printed or written anywhere. `stop` callbacks and min_new_tokens are not used (the answer comes
          whole; min_tokens is no standard OpenAI parameter).

stream(source, sampling) asks source() for a job whenever it can start one (None: nothing waits now) and
yields each Result as it finishes, so the caller may add jobs that depend on earlier results; it ends when
nothing runs and source() returns None.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterator


class BackendError(RuntimeError):
    """A backend could not produce a text (after its retries)."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 320


@dataclass
class Job:
    """One chat to complete. The first `shared` messages are the same for many jobs (the local backend keeps
    their keys and values); no end of turn before min_new_tokens, and stop(text so far) -> True gives up on
    the text (both: local backend only)."""
    key: Any
    messages: list[dict]
    seed: int
    max_new_tokens: int
    min_new_tokens: int = 0
    shared: int = 0
    stop: Callable[[str], bool] | None = None


@dataclass
class Result:
    job: Job
    text: str
    tokens: int  # new tokens (the server's count for openai; words if it gives none)
    finish: str  # "end" | "length" (its token limit) | "stopped" (its stop callback)


class LocalBackend:
    """dpo.sampling on a model from dpo.models (default: the embedded SmolLM2-135M), `batch_size` rows at once."""

    def __init__(self, model: str = "smollm2-135m", *, cache_dir: str | None = None, batch_size: int = 48,
                 precision: str = "auto", loaded=None, prefix_cache: int = 32):
        from dpo.models import load_model
        from dpo.sampling import PrefixCache, check_layout, inference_copy
        self.name, self.batch_size = model, batch_size
        model, self.tokenizer = loaded or load_model(model, cache_dir=cache_dir)
        check_layout(model)
        self.net = inference_copy(model, precision)
        self.prefixes = PrefixCache(prefix_cache)
        self._shared: dict[tuple, list[int]] = {}

    def shared_tokens(self, messages: list[dict], ids: list[int]) -> int:
        """Token count of a chat's first `messages` as they start the chat's `ids` (0 if they do not)."""
        from dpo.data import messages_for
        key = tuple(m["content"] for m in messages)
        if key not in self._shared:
            shared = self.tokenizer.apply_chat_template(messages_for(messages), tokenize=True)
            self._shared[key] = list(shared["input_ids"] if hasattr(shared, "keys") else shared)
        shared = self._shared[key]
        return len(shared) if ids[:len(shared)] == shared else 0

    def stream(self, source: Callable[[], Job | None], sampling: Sampling) -> Iterator[Result]:
        import torch
        return torch.inference_mode()(self._stream)(source, sampling)  # in inference mode only while it runs

    def _stream(self, source: Callable[[], Job | None], sampling: Sampling) -> Iterator[Result]:
        import torch

        from dpo.data import encode_prompt, end_of_turn_id
        from dpo.models import eval_mode
        from dpo.sampling import Request, SamplingConfig, decode_stream
        tok = self.tokenizer

        def request() -> Request | None:
            job = source()
            if job is None:
                return None
            ids = encode_prompt(tok, job.messages)
            stop = (lambda new, job=job: job.stop(tok.decode(new, skip_special_tokens=True))) if job.stop else None
            return Request(ids, torch.Generator().manual_seed(job.seed), max_new_tokens=job.max_new_tokens,
                           min_new_tokens=job.min_new_tokens, stop=stop, key=job,
                           prefix=self.shared_tokens(job.messages[:job.shared], ids) if job.shared else 0)

        cfg = SamplingConfig(sampling.max_new_tokens, sampling.temperature, sampling.top_p)
        with eval_mode(self.net):
            for done in decode_stream(self.net, request, cfg, slots=self.batch_size, pad_id=tok.pad_token_id,
                                      stop_id=end_of_turn_id(tok), prefixes=self.prefixes):
                yield Result(done.request.key, tok.decode(done.tokens, skip_special_tokens=True), len(done.tokens),
                             done.reason)


class OpenAIBackend:
    """POST {base_url}/chat/completions, e.g. base_url http://localhost:8000/v1."""

    RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout: float = 120.0, retries: int = 5, backoff: float = 1.0):
        if not base_url:
            raise ValueError("the openai backend needs --base-url (e.g. http://localhost:8000/v1)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.name, self.concurrency, self.timeout, self.retries, self.backoff = model, concurrency, timeout, retries, backoff
        self._key = os.environ.get(api_key_env, "")  # never printed

    def stream(self, source: Callable[[], Job | None], sampling: Sampling) -> Iterator[Result]:
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        running: dict = {}
        try:
            while True:
                while len(running) < self.concurrency and (job := source()) is not None:
                    running[pool.submit(self.request, job, sampling)] = job
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    yield Result(job, *future.result())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def request(self, job: Job, sampling: Sampling) -> tuple[str, int, str]:
        """One chat completion -> (text, new tokens, finish); retries timeouts, connection errors and RETRY_STATUS
        with delays backoff * 2^k."""
        body = json.dumps({"model": self.name, "messages": job.messages, "temperature": sampling.temperature,
                           "top_p": sampling.top_p, "max_tokens": job.max_new_tokens, "seed": job.seed}).encode()
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, body, headers), timeout=self.timeout) as r:
                    return parse_completion(r.read(), self.url)
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code} {e.reason}"
                if e.code not in self.RETRY_STATUS:
                    raise BackendError(f"{self.url}: {last} (not retried)") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        raise BackendError(f"{self.url}: failed after {self.retries + 1} attempts (last: {last})")


def parse_completion(raw: bytes, url: str) -> tuple[str, int, str]:
    """A chat completion's (text, completion tokens (words if the server gives no usage), "end" | "length")."""
    try:
        answer = json.loads(raw)
        choice = answer["choices"][0]
        text = choice["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        raise BackendError(f"{url}: answer is not a chat completion: {raw[:200]!r}") from None
    tokens = (answer.get("usage") or {}).get("completion_tokens")
    finish = "length" if choice.get("finish_reason") == "length" else "end"
    return text, tokens if isinstance(tokens, int) else len(text.split()), finish
