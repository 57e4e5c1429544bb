"""Where legends are written: a Backend turns a list of prompts into a list of texts.

  local   the model in-process through dpo.sampling.generate (batched, KV cache, left padding)
  openai  any OpenAI-compatible /v1/chat/completions server (vLLM, llama.cpp server, Ollama): requests in
          parallel threads, each with a timeout and retries with exponential backoff. The API key is read from
          an environment variable, sent as a Bearer header, and never printed or written anywhere.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


class BackendError(RuntimeError):
    """A backend could not produce a text (after its retries)."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 256


class LocalBackend:
    """dpo.sampling on a model from dpo.models (default: the embedded SmolLM2-135M)."""

    def __init__(self, model: str = "smollm2-135m", *, cache_dir: str | None = None, batch_size: int = 48,
                 precision: str = "bf16", loaded=None):
        from dpo.models import load_model
        self.name, self.batch_size, self.precision = model, batch_size, precision
        self.model, self.tokenizer = loaded or load_model(model, cache_dir=cache_dir)

    def complete(self, prompts: list[str], sampling: Sampling, seed: int) -> list[str]:
        from dpo.sampling import generate
        return generate(self.model, self.tokenizer, prompts, max_new_tokens=sampling.max_new_tokens,
                        temperature=sampling.temperature, top_p=sampling.top_p, seed=seed,
                        batch_size=self.batch_size, precision=self.precision)


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

    def complete(self, prompts: list[str], sampling: Sampling, seed: int) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda ip: self.request(ip[1], sampling, seed + ip[0]), enumerate(prompts)))

    def request(self, prompt: str, sampling: Sampling, seed: int) -> str:
        """One chat completion; retries timeouts, connection errors and RETRY_STATUS with delays backoff * 2^k."""
        body = json.dumps({"model": self.name, "messages": [{"role": "user", "content": prompt}],
                           "temperature": sampling.temperature, "top_p": sampling.top_p,
                           "max_tokens": sampling.max_new_tokens, "seed": seed}).encode()
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


def parse_completion(raw: bytes, url: str) -> str:
    try:
        return json.loads(raw)["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        raise BackendError(f"{url}: answer is not a chat completion: {raw[:200]!r}") from None
