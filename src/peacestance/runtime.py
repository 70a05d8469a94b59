"""Device and precision choice, shared by training and every scorer."""

from __future__ import annotations

import functools
from pathlib import Path


def pick_device(device: str = "auto") -> str:
    """auto: CUDA, then Apple MPS, then the CPU; anything else is taken as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_precision(setting: str, device: str) -> dict[str, bool]:
    """auto: bf16 where the hardware computes it natively (a GPU, or a CPU with avx512_bf16/AMX), fp16 on an
    older GPU, else fp32. Explicit bf16 is allowed anywhere.

    On a CPU with AMX, bf16 made the hour-long `experiment=best` fine-tune about 3x faster than fp32 and scored
    best of every recipe (session 12); serving already picks bf16 on the same rule (has_native_bf16).
    """
    if setting == "off":
        return {"bf16": False, "fp16": False}
    if setting == "auto":
        if device == "cuda":
            import torch

            bf16 = torch.cuda.is_bf16_supported()
            return {"bf16": bf16, "fp16": not bf16}
        return {"bf16": has_native_bf16(device), "fp16": False}
    if setting not in ("bf16", "fp16"):
        raise ValueError(f"train.mixed_precision must be auto, bf16, fp16 or off, not {setting!r}")
    return {"bf16": setting == "bf16", "fp16": setting == "fp16"}


#: what a Predictor may run in; ``auto`` picks bf16 where has_native_bf16() says so, else fp32
PRECISIONS = ("auto", "fp32", "bf16", "int8")


def cpu_has_bf16() -> bool:
    """bf16 pays off on a CPU only with native instructions (avx512_bf16, AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def has_native_bf16(device: str) -> bool:
    """Whether bf16 runs faster than fp32 here: a GPU that supports it, or a CPU with native bf16 instructions."""
    import torch

    if device == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device == "cpu" and cpu_has_bf16()


def check_bf16(device: str) -> None:
    import torch

    if device not in ("cuda", "cpu") or has_native_bf16(device):
        return
    if device == "cuda":
        raise ValueError("precision=bf16: this GPU does not support bfloat16; use fp32")
    raise ValueError(f"precision=bf16: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no bfloat16 "
                         "instructions (avx512_bf16 or AMX), so bf16 would be emulated and slower; use fp32, "
                         "or int8 with backend=onnx")


def linear_weights_to_bf16(network) -> int:
    """Keep the Linear layers' weights in bf16 for serving under bf16 autocast; returns how many were cast.

    Autocast casts every fp32 Linear weight to bf16 for each matmul (and caches the copies during a
    call), so serving in bf16 held the fp32 weights and bf16 copies of them. Holding the Linear weights
    in bf16 from the start gives the same numbers (the matmul saw bf16 weights anyway) with half their
    memory; embeddings and layer norms stay fp32, as autocast keeps them. Only for a scorer that always
    runs under autocast (Predictor precision=bf16), never for training.
    """
    import torch

    # tied weights (one tensor under two names) are never released: the other name still reads them
    pointers = [tensor.data_ptr() for _, tensor in network.named_parameters(remove_duplicate=False)]
    mapped = _weight_file_mappings() if len(pointers) == len(set(pointers)) else []
    count = 0
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, torch.nn.Linear):
                old = [t.data for t in (module.weight, module.bias) if t is not None]
                module.to(torch.bfloat16)
                for tensor in old:
                    _release_pages(tensor, mapped)
                count += 1
        # The other tensors (embeddings, layer norms) are copied out of the memory-mapped weights file
        # too, so nothing refers to the mapping any more and it is released whole.
        for tensor in [*network.parameters(), *network.buffers()]:
            if tensor.dtype != torch.bfloat16:
                old = tensor.data
                tensor.data = old.clone()
                _release_pages(old, mapped)
    return count


def input_embeddings_to_bf16(network) -> bool:
    """Hold the token-embedding table in bf16 for serving under bf16 autocast; whether it was cast.

    It is the largest fp32 tensor left after the Linear layers (all-mpnet-base-v2: 30,527 x 768, 89
    MB), and a lookup reads one row per token, so bf16 costs no speed. Unlike the Linear weights the
    numbers move a little: each looked-up row is rounded to bf16 before the position embeddings are
    added in fp32. On the benchmark's and the speed bench's 3,400 pairs, 3 labels differed from fp32
    instead of 1. A table shared with another weight (tied) is left alone.
    """
    import torch

    table = network.get_input_embeddings() if hasattr(network, "get_input_embeddings") else None
    if not isinstance(table, torch.nn.Embedding) or table.weight.dtype == torch.bfloat16:
        return False
    shared = [name for name, tensor in network.named_parameters(remove_duplicate=False)
              if tensor.data_ptr() == table.weight.data_ptr()]
    if len(shared) > 1:
        return False
    with torch.no_grad():
        table.weight.data = table.weight.data.to(torch.bfloat16)
    return True


_MADV_DONTNEED = 4


def _weight_file_mappings() -> list[tuple[int, int]]:
    """Address ranges where a .safetensors file is memory-mapped into this process (Linux; else none).

    safetensors maps the file private (copy-on-write); loading never writes to the weights.
    """
    ranges = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and fields[-1].endswith(".safetensors"):
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    ranges.append((lo, hi))
    except OSError:
        pass
    return ranges


@functools.cache
def _madvise_and_page_size():
    import ctypes
    import os

    return ctypes.CDLL(None).madvise, os.sysconf("SC_PAGE_SIZE")


def _release_pages(tensor, mapped: list[tuple[int, int]]) -> None:
    """Drop the resident pages of a tensor that lies in a mapping of a weights file.

    A tensor read through the mapping (a converted fp32 weight) stays resident until the whole file
    is unmapped; without this, converting 110M weights held the fp32 pages and the bf16 copies at
    once (peak RSS 1.19 GB for all-mpnet-base-v2). Only whole pages inside a tensor nothing reads any
    more, and only inside a mapping of a weights file (the kernel reads them back from the file if
    anything touches them again).
    """
    import ctypes

    if not mapped:
        return
    madvise, page = _madvise_and_page_size()
    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    lo, hi = -(-start // page) * page, end // page * page
    if hi > lo and any(a <= lo and hi <= b for a, b in mapped):
        madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED)
