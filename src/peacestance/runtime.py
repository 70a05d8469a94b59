"""Device and precision choice, shared by training and every scorer."""

from __future__ import annotations

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
    """auto: bf16 where the GPU has it, else fp16 on GPU; off on CPU (explicit bf16 is allowed there)."""
    import torch

    if setting == "off" or (setting == "auto" and device != "cuda"):
        return {"bf16": False, "fp16": False}
    if setting == "auto":
        bf16 = torch.cuda.is_bf16_supported()
        return {"bf16": bf16, "fp16": not bf16}
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
