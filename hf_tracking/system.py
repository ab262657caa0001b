"""Memory and device probes.

Keys (logged when ``track_memory`` is on):

| key | meaning |
| --- | --- |
| ``memory/gpu_{i}_allocated_gb`` | memory held by tensors on GPU i now |
| ``memory/gpu_{i}_max_allocated_gb`` | peak allocated since the previous logging step (the peak is reset after reading) |
| ``memory/gpu_{i}_reserved_gb`` | memory the caching allocator holds on GPU i |
| ``memory/gpu_{i}_fragmentation_gb`` | reserved minus allocated |
| ``memory/gpu_{i}_alloc_retries`` | cudaMalloc retries so far (allocator under pressure) |
| ``memory/gpu_{i}_ooms`` | out-of-memory errors so far |
| ``memory/system_memory_percent`` | host RAM in use, percent |
| ``memory/process_rss_gb`` | resident memory of this process |

GPU names are absent on a machine without CUDA (never zero). The GPU probes read the caching
allocator's counters, which costs no device synchronisation; they run on logging steps only. The
host probes (psutil, tens of µs) run on the writer thread.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

_GB = 1024**3


def imported_module(name: str) -> Any:
    """A module that is already imported and done executing, else None; never imports it. A
    module another thread is still importing (a backend's library pulling in torch) is not used
    half-initialised."""
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def _cuda() -> Any:
    """torch.cuda when torch is already imported and a GPU is usable; never imports torch."""
    torch = imported_module("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or imported_module("torch.cuda") is None or not cuda.is_available():
        return None
    return cuda


def gpu_memory_metrics(index: int | None = None, reset_peak: bool = True) -> dict[str, float]:
    """Allocator counters of this process's GPU, named ``memory/gpu_{index}_*``; empty without
    CUDA. Only the current device is read, so no rank opens a context on another rank's GPU."""
    cuda = _cuda()
    if cuda is None or not cuda.is_initialized():
        return {}
    device = cuda.current_device()
    stats = cuda.memory_stats(device)
    allocated = stats.get("allocated_bytes.all.current", 0)
    reserved = stats.get("reserved_bytes.all.current", 0)
    prefix = f"memory/gpu_{device if index is None else index}"
    metrics = {
        f"{prefix}_allocated_gb": allocated / _GB,
        f"{prefix}_max_allocated_gb": stats.get("allocated_bytes.all.peak", 0) / _GB,
        f"{prefix}_reserved_gb": reserved / _GB,
        f"{prefix}_fragmentation_gb": (reserved - allocated) / _GB,
        f"{prefix}_alloc_retries": float(stats.get("num_alloc_retries", 0)),
        f"{prefix}_ooms": float(stats.get("num_ooms", 0)),
    }
    if reset_peak:
        cuda.reset_peak_memory_stats(device)
    return metrics


_host_cache: dict[str, Any] = {"pid": None, "process": None, "at": -1.0, "metrics": {}}


def host_memory_metrics(max_age_seconds: float = 1.0) -> dict[str, float]:
    """Host RAM in use and this process's resident memory (psutil). A reading younger than
    ``max_age_seconds`` is reused: the probe costs tens of µs and RAM moves slowly."""
    import psutil

    now = time.monotonic()
    cache = _host_cache
    if cache["pid"] != os.getpid():
        cache.update(pid=os.getpid(), process=psutil.Process(), at=-1.0)
    if now - cache["at"] >= max_age_seconds:
        cache["metrics"] = {
            "memory/system_memory_percent": float(psutil.virtual_memory().percent),
            "memory/process_rss_gb": cache["process"].memory_info().rss / _GB,
        }
        cache["at"] = now
    return dict(cache["metrics"])


def device_name_and_dtype(model: Any = None) -> tuple[str | None, str | None]:
    """Name of the GPU the model is on (the current device's when there is no model and CUDA is
    in use) and the dtype of the model's floating weights. Never initialises CUDA."""
    cuda = _cuda()
    name = None
    dtype = None
    if model is not None:
        for parameter in model.parameters():
            if parameter.is_floating_point():
                dtype = str(parameter.dtype).replace("torch.", "")
                if cuda is not None and parameter.device.type == "cuda":
                    name = cuda.get_device_name(parameter.device)
                break
    elif cuda is not None and cuda.is_initialized():
        name = cuda.get_device_name(cuda.current_device())
    return name, {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(dtype or "", dtype)


@functools.cache
def hardware_fingerprint() -> dict[str, Any]:
    """What the run ran on: GPUs, driver and CUDA, CPU, host RAM, library versions."""
    from importlib import metadata

    import psutil

    info: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "host_memory_gb": round(psutil.virtual_memory().total / _GB, 2),
        "gpus": [],
        "gpu_count": 0,
    }
    cuda = _cuda()
    if cuda is not None:
        info["gpus"] = [cuda.get_device_name(i) for i in range(cuda.device_count())]
        info["gpu_count"] = len(info["gpus"])
        info["cuda_version"] = sys.modules["torch"].version.cuda
        info["driver_version"] = _nvidia_driver_version()
    versions = {}
    for package in ("hf_tracking", "torch", "transformers", "accelerate", "wandb", "datasets"):
        # An imported package's own version; reading a distribution's metadata costs ~10 ms.
        version = getattr(sys.modules.get(package), "__version__", None)
        try:
            versions[package] = version or metadata.version(package.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[package] = None
    info["versions"] = versions
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_driver_version() -> str | None:
    """The driver version from NVML when pynvml is installed (optional)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else version
    except Exception:
        return None


def path_size(path: Path) -> int | None:
    try:
        if path.is_file():
            return path.stat().st_size
        if path.is_dir():
            return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    except OSError:
        pass
    return None
