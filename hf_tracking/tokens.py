"""Counting tokens from the model's own inputs, with no host-device sync.

A forward pre-hook on the model sees ``input_ids``, ``attention_mask`` and ``labels`` as the
Trainer passes them. On training forwards only (``module.training``) it counts real tokens (the
attention mask's non-zero positions, or tokens that are not the pad token, or all tokens: the rule
of the Trainer's ``include_num_input_tokens_seen="non_padding"``), slots (every position, padding
included) and loss-bearing tokens (labels other than -100 after the one-position shift the causal
LM loss applies). Inputs on an accelerator are counted by asynchronous adds into a small int64
tensor on the same device, read (and summed over processes) only on logging steps
(:meth:`TokenCounter.read`); inputs in host memory are counted with the same torch ops and read at
once (an item of a host tensor waits for nothing). Inside training a first tensor op costs tens of
µs (the forward and backward passes have pushed its code out of the CPU caches), so both counts
are taken with as few ops as the rule allows: one ``count_nonzero`` each, no numpy.
"""

from __future__ import annotations

from typing import Any

IGNORE_INDEX = -100
KINDS = ("real", "slots", "loss_bearing")


class TokenCounter:
    def __init__(self, pad_token_id: int | None = None, main_input_name: str = "input_ids") -> None:
        self.pad_token_id = pad_token_id
        self.main_input_name = main_input_name
        self.real = 0
        self.slots = 0
        self.loss_bearing = 0
        self.seq_length = 0
        self._device_real: Any = None
        self._device_loss_bearing: Any = None
        self._handle: Any = None
        self._device: Any = None

    def attach(self, model: Any) -> None:
        self.detach()
        self._device = next(model.parameters()).device
        self._handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        if not module.training:
            return
        input_ids = kwargs.get(self.main_input_name)
        if input_ids is None and args:
            input_ids = args[0]
        if input_ids is None or not hasattr(input_ids, "numel"):
            return
        slots = input_ids.numel()  # a shape, known on the host
        self.slots += slots
        self.seq_length = input_ids.shape[-1]
        mask = kwargs.get("attention_mask")
        labels = kwargs.get("labels")
        if input_ids.is_cpu:
            self._count_on_host(input_ids, mask, labels, slots)
        else:
            self._count_on_device(input_ids, mask, labels, slots)

    def _count_on_host(self, input_ids: Any, mask: Any, labels: Any, slots: int) -> None:
        real, loss_bearing = micro_batch_counts(input_ids, mask, labels, self.pad_token_id)
        self.real += slots if real is None else int(real)
        if loss_bearing is not None:
            self.loss_bearing += int(loss_bearing)

    def _count_on_device(self, input_ids: Any, mask: Any, labels: Any, slots: int) -> None:
        # Runs on every training micro-batch: device-side adds only, nothing is read back here.
        if self._device_real is None:
            import torch

            self._device_real = torch.zeros((), dtype=torch.int64, device=input_ids.device)
            self._device_loss_bearing = torch.zeros((), dtype=torch.int64, device=input_ids.device)
        real, loss_bearing = micro_batch_counts(input_ids, mask, labels, self.pad_token_id)
        if real is None:
            self.real += slots
        else:
            self._device_real.add_(real)
        if loss_bearing is not None:
            self._device_loss_bearing.add_(loss_bearing)

    def read(self, sum_over_processes: bool = False) -> dict[str, int]:
        """Counts since the start, over all processes when asked. Reads the device at most once:
        call it on logging steps only, on every rank (the sum is a collective)."""
        counts = {"real": self.real, "slots": self.slots, "loss_bearing": self.loss_bearing}
        if self._device_real is None and not sum_over_processes:
            return counts
        import torch
        import torch.distributed as dist

        distributed = sum_over_processes and dist.is_available() and dist.is_initialized()
        if not distributed:
            if self._device_real is not None:
                real, loss_bearing = torch.stack(
                    (self._device_real, self._device_loss_bearing)
                ).tolist()
                counts["real"] += real
                counts["loss_bearing"] += loss_bearing
            return counts
        # The collective runs where the backend expects it: the model's device.
        totals = torch.tensor([counts[kind] for kind in KINDS], device=self._device)
        if self._device_real is not None:
            zero = torch.zeros_like(self._device_real)
            totals += torch.stack((self._device_real, zero, self._device_loss_bearing))
        dist.all_reduce(totals, op=dist.ReduceOp.SUM)
        return dict(zip(KINDS, totals.tolist(), strict=True))


def micro_batch_counts(input_ids: Any, mask: Any, labels: Any, pad_token_id: int | None) -> Any:
    """(real, loss_bearing) of one micro-batch as 0-dim tensors on its device: real is None where
    every slot counts (no mask, no pad token), loss_bearing None without labels."""
    if mask is not None:
        real = mask.count_nonzero()
    elif pad_token_id is not None:
        real = (input_ids != pad_token_id).count_nonzero()
    else:
        real = None
    loss_bearing = None if labels is None else labels[..., 1:].ne(IGNORE_INDEX).count_nonzero()
    return real, loss_bearing
