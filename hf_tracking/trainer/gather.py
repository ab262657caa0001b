"""Figures gathered across ranks, on logging steps only (every rank is inside ``on_log``)."""

from __future__ import annotations


def cuda_usable() -> bool:
    """Whether this process can read GPU memory at all (asked once a run, not on every log)."""
    from hf_tracking.system import imported_module

    torch = imported_module("torch")
    return torch is not None and torch.cuda.is_available()


def gathered_gpu_memory(world_size: int) -> dict[str, float] | None:
    """This rank's GPU memory, and every rank's in a multi-process run of ``world_size``
    processes (one all_gather, on logging steps only). None without CUDA."""
    from hf_tracking.system import gpu_memory_metrics, imported_module

    torch = imported_module("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    import torch.distributed as dist

    if world_size <= 1 or not (dist.is_available() and dist.is_initialized()):
        return gpu_memory_metrics()
    local = gpu_memory_metrics(index=dist.get_rank())
    names = [key.split("_", 2)[-1] for key in local]
    values = torch.tensor(list(local.values()), dtype=torch.float64, device="cuda")
    gathered = [torch.empty_like(values) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, values)
    memory: dict[str, float] = {}
    for rank, row in enumerate(gathered):
        for name, value in zip(names, row.tolist(), strict=True):
            memory[f"memory/gpu_{rank}_{name}"] = value
    for name in names:
        memory[f"memory/gpu_max_{name}"] = max(
            memory[f"memory/gpu_{r}_{name}"] for r in range(len(gathered))
        )
    return memory


def rank_zero_decides(decision: bool, world_size: int) -> bool:
    """Rank zero's ``decision`` on every rank of a ``world_size``-process run (one broadcast of
    one number, on logging steps only: every rank calls it at the same event)."""
    from hf_tracking.system import imported_module

    torch = imported_module("torch")
    if world_size <= 1 or torch is None:
        return decision
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return decision
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    flag = torch.tensor([1 if decision else 0], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())
