"""Several processes, one device each, launched by torchrun: DistributedDataParallel or FSDP2.

  torchrun --nproc_per_node N train.py ... --dist ddp|fsdp

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `setup` joins the process group
(NCCL on CUDA, the device cuda:LOCAL_RANK; gloo on the CPU). Without --dist nothing here runs a collective
and every helper is the identity, so the single-process path is unchanged.

Data: every rank builds the same global order from the seed (dpo.data.batch_order), so the micro-batches
of a step are the single process's; rank r takes the pairs at positions r, r + N, ... of each (`shard`). A
rank whose shard is empty runs a stand-in pair with weight 0, so all ranks run the same forwards and
backwards and their collectives stay in step.

Loss: one process's step gradient is  g = (1/n) sum_i grad l_i  over the n pairs of the step (micro-batch
mean losses weighted by their share of the pairs). Rank r backpropagates its shard's mean loss times
N * n_r / n; DDP and FSDP average gradients over the N ranks, so the sum is g again whatever the n_r. The
pair counts of the global batch are known on every rank (the same order): no count needs a collective.
Losses normalised per token instead (PPO's masked means) use the global token count (`global_sum`).

Modes: "ddp" keeps a full copy of the model on every rank and all-reduces gradients (LoRA, small models);
"fsdp" shards parameters, gradients and optimizer states (fully_shard per decoder layer, then the root,
MixedPrecisionPolicy for bf16/fp16), checkpoints with torch.distributed.checkpoint (each rank its shard),
and exports the full state on rank 0. Both hook into a module's forward, and the losses here run the model's
body and head themselves (dpo.logprobs), so the module they wrap is `Parallel`, whose forward calls a loss
closure. The memory each mode needs is estimated by `memory_table` (python -m dpo.distributed memory).
"""
from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from .files import atomic_folder

MODES = ("none", "ddp", "fsdp")
T = TypeVar("T")


def active() -> bool:
    """Whether this process belongs to a process group of several ranks."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0 (or the only process): the one that writes files, logs metrics and talks to W&B."""
    return rank() == 0


def launched() -> bool:
    """Whether torchrun started several processes (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(mode: str, device: str) -> torch.device | None:
    """Join torchrun's process group for `mode` and return this rank's device: cuda:LOCAL_RANK (made
    current) with NCCL, or the CPU with gloo. `device` is cfg.device. Mode none returns None (one process;
    refused under torchrun)."""
    if mode not in MODES:
        raise ValueError(f"dist must be one of {MODES}, got {mode!r}")
    if mode == "none":
        if launched():
            raise ValueError("launched by torchrun with several processes: pass --dist ddp or --dist fsdp "
                             "(otherwise every process would train and write the same run alone)")
        return None
    if "RANK" not in os.environ:
        raise ValueError(f"--dist {mode} runs under torchrun: torchrun --nproc_per_node N train.py ... --dist {mode}")
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        here = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(here)
    else:
        here = torch.device("cpu")
    if not active():
        dist.init_process_group("nccl" if cuda else "gloo", device_id=here if cuda else None)
    return here


def teardown() -> None:
    if active():
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- data and results

def shard(indices: Sequence[int]) -> tuple[list[int], int]:
    """(this rank's rows of a global micro-batch, how many of them are real): positions rank, rank + N, ...
    An empty shard becomes the batch's first row as a stand-in (weight 0), so every rank runs a forward."""
    mine = list(indices[rank()::world_size()])
    return (mine, len(mine)) if mine else ([indices[0]], 0)


def share(items: Sequence[T]) -> Sequence[T]:
    """This rank's items of a list of independent work (evaluation prompts, batches): positions rank,
    rank + N, ...; possibly none (no stand-in: evaluation runs no collective per item)."""
    return items[rank()::world_size()]


def global_sum(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every value (0-dim tensors on one device) summed over the ranks, in one all_reduce."""
    if not active() or not values:
        return values
    stacked = torch.stack(list(values.values()))
    dist.all_reduce(stacked)
    return dict(zip(values, stacked.unbind()))


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether `flag` holds on some rank (e.g. Ctrl-C reached one), so all ranks act together."""
    if not active():
        return flag
    t = torch.tensor(float(flag), device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast(obj: T) -> T:
    """Rank 0's `obj` on every rank (any picklable object)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_in_order(parts: dict[int, T], total: int) -> list[T]:
    """Each rank holds some of the items 0..total-1 ({position: item}); every rank gets all of them in order.
    Items travel pickled (all_gather_object): CPU tensors of results, not models."""
    if active():
        every: list[dict[int, T]] = [{} for _ in range(world_size())]
        dist.all_gather_object(every, parts)
        parts = {k: v for d in every for k, v in d.items()}
    missing = [i for i in range(total) if i not in parts]
    if missing:
        raise RuntimeError(f"gather_in_order: items {missing[:5]} came from no rank")
    return [parts[i] for i in range(total)]


def barrier() -> None:
    if active():
        dist.barrier()


@contextlib.contextmanager
def shared_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """dpo.files.atomic_folder across ranks: rank 0 makes the temporary folder, every rank writes into it
    (the sharded checkpoint), and rank 0 renames it once all have finished."""
    if not active():
        with atomic_folder(folder) as tmp:
            yield tmp
        return
    if is_main():
        with atomic_folder(folder) as tmp:
            broadcast(str(tmp))
            yield tmp
            barrier()  # every rank has written its part
    else:
        tmp = Path(broadcast(None))
        yield tmp
        barrier()
    barrier()  # renamed: every rank sees the finished folder


# ----------------------------------------------------------------------------- wrapping the model

class Parallel(nn.Module):
    """The module DDP or FSDP wraps: forward(fn) returns fn(), a loss closure over `model` (whose body and
    head dpo.logprobs calls itself), so their hooks surround the whole loss computation."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, fn: Callable[[], Any]) -> Any:
        return fn()


Runner = Callable[[Callable[[], Any]], Any]  # run(loss closure) -> its result, under DDP/FSDP's hooks


def single(fn: Callable[[], Any]) -> Any:
    """The Runner of one process: calls the closure."""
    return fn()


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of a transformers model (or of one held as .lm): the classes its
    `_no_split_modules` names, the units FSDP shards one at a time."""
    names = set()
    for m in model.modules():
        names |= set(getattr(m, "_no_split_modules", None) or ())
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise ValueError(f"{type(model).__name__}: no decoder layers found (_no_split_modules) to shard with FSDP")
    return layers


def mixed_precision(precision: str):
    """FSDP2's policy: parameters gathered in bf16/fp16 for compute, gradients reduced in fp32 (the sharded
    master weights stay fp32); fp32: no casts. The root casts no inputs (its forward takes a closure)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32 if dtype else None)


def parallelize(model: nn.Module, mode: str, precision: str, device: torch.device) -> Runner:
    """Wrap `model` (after its trainable parameters are set, before the optimizer is built: FSDP replaces
    the parameters by sharded ones) and return the Runner the loop calls its loss closures with."""
    if not active() or mode == "none":
        return single
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel
        # device_ids=None: a single-device module whose inputs are already on its device (they are closures)
        return DistributedDataParallel(Parallel(model), device_ids=None)
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard
        policy = mixed_precision(precision)
        for layer in decoder_layers(model):
            fully_shard(layer, mp_policy=policy)
        return fully_shard(Parallel(model), mp_policy=policy)
    raise ValueError(f"dist must be one of {MODES}, got {mode!r}")


@contextlib.contextmanager
def gradient_sync(run: Runner, sync: bool) -> Iterator[None]:
    """DDP: skip the gradient all-reduce for the micro-batches before a step's last (no_sync). FSDP
    reduce-scatters every micro-batch, keeping only sharded gradients between them."""
    if sync or not hasattr(run, "no_sync"):
        yield
        return
    with run.no_sync():
        yield


def is_sharded(model: nn.Module) -> bool:
    """Whether FSDP has sharded the model's parameters (DTensors)."""
    if not active():
        return False
    from torch.distributed.tensor import DTensor
    return any(isinstance(p, DTensor) for p in model.parameters())


def local_value(t: torch.Tensor) -> torch.Tensor:
    """A DTensor's full value (e.g. the gradient norm of sharded gradients), other tensors as they are."""
    from torch.distributed.tensor import DTensor
    return t.full_tensor() if isinstance(t, DTensor) else t


# ----------------------------------------------------------------------------- FSDP state

def _state_options(**kw):
    from torch.distributed.checkpoint.state_dict import StateDictOptions
    return StateDictOptions(ignore_frozen_params=True, **kw)


def save_sharded(folder: Path, model: nn.Module, optimizer) -> None:
    """Every rank writes its shard of the trainable weights and optimizer state (torch.distributed.checkpoint)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict
    model_state, optim_state = get_state_dict(model, optimizer, options=_state_options())
    dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=str(folder))


def load_sharded(folder: Path, model: nn.Module, optimizer) -> None:
    """Load save_sharded's checkpoint into the sharded model and its optimizer, each rank its shard."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    model_state, optim_state = get_state_dict(model, optimizer, options=_state_options())
    state = {"model": model_state, "optim": optim_state}
    dcp.load(state, checkpoint_id=str(folder))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"],
                   options=_state_options(strict=False))


def full_state(model: nn.Module, trainable_only: bool) -> dict[str, torch.Tensor]:
    """The full (unsharded) state dict on rank 0's CPU, {} on the other ranks; a collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True,
                                                                ignore_frozen_params=trainable_only))


# ----------------------------------------------------------------------------- memory estimates

@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs of a Llama-style model."""
    name: str
    params: float  # all parameters
    layers: int
    hidden: int
    kv_dim: int  # key/value width (grouped-query attention)
    vocab: int


SHAPES = (ModelShape("1B (Llama-3.2-1B)", 1.24e9, 16, 2048, 512, 128256),
          ModelShape("8B (Llama-3.1-8B)", 8.03e9, 32, 4096, 1024, 128256),
          ModelShape("70B (Llama-3.1-70B)", 70.6e9, 80, 8192, 1024, 128256))


def lora_params(shape: ModelShape, r: int = 8) -> float:
    """LoRA on q_proj and v_proj (the default targets): r (in + out) per matrix per layer."""
    return shape.layers * r * ((shape.hidden + shape.hidden) + (shape.hidden + shape.kv_dim))


def memory_gib(shape: ModelShape, mode: str, *, gpus: int = 8, pairs: int = 4, tokens: int = 384,
               lora_r: int = 8, chunk_bytes: int = 1 << 26) -> float:
    """Estimated peak GiB on one GPU, this codebase's way (fp32 master weights, bf16 autocast, activation
    checkpointing on, AdamW), for `pairs` chosen+rejected pairs of `tokens` tokens each per micro-batch:

      weights      4 B/param (fp32), all on every GPU except FSDP (/ gpus, plus 2 decoder layers gathered in bf16)
      trainable    4 (grad) + 8 (AdamW m, v) B per trainable param (all: full FT; LoRA: lora_params), / gpus under FSDP
      activations  2 B x (2 pairs x tokens) x hidden per layer (checkpointed layer inputs, bf16)
                   + one layer recomputed in backward, ~34 B x tokens x hidden (Korthikanti et al. 2022)
                   + one chunk of fp32 logits (dpo.logprobs.CHUNK_BYTES)
    Estimates: framework buffers, allocator fragmentation and the CUDA context (~1 GiB) come on top."""
    seq = 2 * pairs * tokens  # chosen and rejected rows
    per_layer = 2 * seq * shape.hidden
    activations = shape.layers * per_layer + 34 * seq * shape.hidden + chunk_bytes
    if mode == "lora-ddp":
        total = 4 * shape.params + 16 * lora_params(shape, lora_r)
    elif mode == "full-ddp":
        total = 16 * shape.params
    elif mode == "full-fsdp":
        total = 16 * shape.params / gpus + 2 * 2 * shape.params / shape.layers
    else:
        raise ValueError(f"mode must be lora-ddp, full-ddp or full-fsdp, got {mode!r}")
    return (total + activations) / 2 ** 30


MEMORY_MODES = {"lora-ddp": "LoRA r=8, DDP", "full-ddp": "full FT, DDP", "full-fsdp": "full FT, FSDP over {gpus} GPUs"}


def memory_table(shapes: Sequence[ModelShape] = SHAPES, *, gpus: int = 8, **kw) -> str:
    """A markdown table of memory_gib per model and mode (GiB per GPU)."""
    lines = ["| model | " + " | ".join(m.format(gpus=gpus) for m in MEMORY_MODES.values()) + " |",
             "|---|" + "---:|" * len(MEMORY_MODES)]
    for s in shapes:
        lines.append(f"| {s.name} | " + " | ".join(f"{memory_gib(s, m, gpus=gpus, **kw):,.1f}" for m in MEMORY_MODES)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dpo.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["memory"], help="print the estimated memory per GPU of each mode")
    parser.add_argument("--pairs", type=int, default=4, help="pairs per micro-batch per GPU")
    parser.add_argument("--tokens", type=int, default=384, help="tokens per sequence")
    parser.add_argument("--gpus", type=int, default=8)
    args = parser.parse_args(argv)
    print(memory_table(pairs=args.pairs, tokens=args.tokens, gpus=args.gpus))


if __name__ == "__main__":
    main()
