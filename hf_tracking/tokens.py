"""Counting tokens on the device, from the model's own inputs, with no host-device sync.

A forward pre-hook on the model sees ``input_ids``, ``attention_mask`` and ``labels`` as the
Trainer passes them. On training forwards only (``module.training``) it adds to a small int64
tensor on the same device: real tokens (the attention mask's sum, or tokens that are not the pad
token, or all tokens: the rule of the Trainer's ``include_num_input_tokens_seen="non_padding"``),
slots (every position, padding included) and loss-bearing tokens (labels other than -100 after the
one-position shift the causal LM loss applies). These are asynchronous device ops; the counts are
read, and summed over processes, only on logging steps (:meth:`TokenCounter.read`).
"""

from __future__ import annotations

from typing import Any

IGNORE_INDEX = -100
KINDS = ("real", "slots", "loss_bearing")


class TokenCounter:
    def __init__(self, pad_token_id: int | None = None, main_input_name: str = "input_ids") -> None:
        self.pad_token_id = pad_token_id
        self.main_input_name = main_input_name
        self.slots = 0
        self.seq_length = 0
        self._real: Any = None
        self._loss_bearing: Any = None
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
        # Runs on every training micro-batch: device-side adds only, nothing is read back here.
        if self._real is None:
            import torch

            self._real = torch.zeros((), dtype=torch.int64, device=input_ids.device)
            self._loss_bearing = torch.zeros((), dtype=torch.int64, device=input_ids.device)
        slots = input_ids.numel()  # a shape, known on the host
        self.slots += slots
        self.seq_length = input_ids.shape[-1]
        mask = kwargs.get("attention_mask")
        if mask is not None:
            self._real.add_(mask.sum())
        elif self.pad_token_id is not None:
            self._real.add_((input_ids != self.pad_token_id).sum())
        else:
            self._real.add_(slots)
        labels = kwargs.get("labels")
        if labels is not None:
            self._loss_bearing.add_((labels[..., 1:] != IGNORE_INDEX).sum())

    def read(self, sum_over_processes: bool = False) -> dict[str, int]:
        """Counts since the start, over all processes when asked. Reads the device once: call it
        on logging steps only, on every rank (the sum is a collective)."""
        import torch
        import torch.distributed as dist

        distributed = sum_over_processes and dist.is_available() and dist.is_initialized()
        if self._real is None:
            self._real = torch.zeros((), dtype=torch.int64, device=self._device)
            self._loss_bearing = torch.zeros((), dtype=torch.int64, device=self._device)
        if not distributed:
            real, loss_bearing = torch.stack((self._real, self._loss_bearing)).tolist()
            return {"real": real, "slots": self.slots, "loss_bearing": loss_bearing}
        slots = torch.full_like(self._real, self.slots)
        counts = torch.stack((self._real, slots, self._loss_bearing))
        dist.all_reduce(counts, op=dist.ReduceOp.SUM)
        return dict(zip(KINDS, counts.tolist(), strict=True))
