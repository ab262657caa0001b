"""Counting tokens from the model's own inputs, off the training thread and with no host-device
sync on it.

A forward pre-hook on the model sees ``input_ids``, ``attention_mask`` and ``labels`` as the
Trainer passes them. On training forwards only (``module.training``) it keeps references to
them, nothing more: inside training a first tensor op costs tens of µs (the forward and backward
passes have pushed its code out of the CPU caches), so the hook runs none. The counts are taken
when a row needs them, by whoever asks first: real tokens (the attention mask's non-zero
positions, or tokens that are not the pad token, or all tokens: the rule of the Trainer's
``include_num_input_tokens_seen="non_padding"``), slots (every position, padding included) and
loss-bearing tokens (labels other than -100 after the one-position shift the causal LM loss
applies). A batch with ``position_ids`` and no attention mask is padding-free (TRL's packing,
transformers' ``DataCollatorWithFlattening``): documents laid end to end, positions restarting at
each one. Its pad ids are real tokens (TRL pads with the end-of-text token when a tokenizer has
none, so every document's last token is one); only a tail of pad ids at position 0, which
``pad_to_multiple_of`` adds, is padding.

:meth:`TokenCounter.take` hands the micro-batches seen so far over (two references swapped) and
:meth:`TokenCounter.count` counts them, in the order they were taken, on any thread: the tracker
takes them on the training thread as it reads a row's inputs and counts them on the writer thread
as it builds the row (:mod:`hf_tracking.engine.jobs`). At most ``MAX_KEPT`` micro-batches are
held: past that they are folded into running counts with device-side adds (nothing read back), so
a long logging interval holds little memory and never waits for a device.
:meth:`TokenCounter.read` counts now and sums over processes (a collective: every rank calls it
at the same events).
"""

from __future__ import annotations

import threading
from typing import Any

IGNORE_INDEX = -100
KINDS = ("real", "slots", "loss_bearing")
MAX_KEPT = 64
# What the hook keeps of a training forward: input ids, attention mask, labels, and the position
# ids of a batch without a mask (None otherwise).
Kept = tuple[Any, Any, Any, Any]


class Counts:
    """Running counts of micro-batches: host ints, and 0-dim tensors not read yet."""

    __slots__ = (
        "loss_bearing",
        "real",
        "seq_length",
        "slots",
        "unread_loss_bearing",
        "unread_real",
    )

    def __init__(self) -> None:
        self.real = self.slots = self.loss_bearing = self.seq_length = 0
        self.unread_real: Any = None
        self.unread_loss_bearing: Any = None

    def add(self, micro_batches: list[Kept], pad_token_id: int | None) -> None:
        """Count micro-batches with device-side ops only: nothing is read back from a device
        here (counts of tensors on the host are read at once)."""
        for input_ids, mask, labels, position_ids in micro_batches:
            slots = input_ids.numel()  # a shape, known on the host
            self.slots += slots
            self.seq_length = input_ids.shape[-1]
            real, loss_bearing = micro_batch_counts(
                input_ids, mask, labels, pad_token_id, position_ids
            )
            if input_ids.is_cpu:  # reading the host's own memory costs nothing: read now
                self.real += slots if real is None else int(real)
                self.loss_bearing += 0 if loss_bearing is None else int(loss_bearing)
                continue
            if real is None:
                self.real += slots
            else:
                self.unread_real = real if self.unread_real is None else self.unread_real + real
            if loss_bearing is not None:
                unread = self.unread_loss_bearing
                self.unread_loss_bearing = loss_bearing if unread is None else unread + loss_bearing

    def read(self) -> dict[str, int]:
        """The totals as ints: one read of the device, when anything is still on it."""
        real, loss_bearing = self.real, self.loss_bearing
        unread = [
            count for count in (self.unread_real, self.unread_loss_bearing) if count is not None
        ]
        if unread:
            import torch

            values = torch.stack(unread).cpu().tolist()
            if self.unread_real is not None:
                real += values.pop(0)
            if self.unread_loss_bearing is not None:
                loss_bearing += values.pop(0)
        return {"real": real, "slots": self.slots, "loss_bearing": loss_bearing}


# What TokenCounter.take gives: micro-batches kept, and counts folded, since the last take.
Taken = tuple[list[Kept], Counts | None]


class TokenCounter:
    def __init__(
        self,
        pad_token_id: int | None = None,
        main_input_name: str = "input_ids",
        base: dict[str, int] | None = None,
    ) -> None:
        self.pad_token_id = pad_token_id
        self.main_input_name = main_input_name
        self.base = {kind: int((base or {}).get(kind, 0)) for kind in KINDS}
        self._totals = {**self.base, "seq_length": 0}
        self._lock = threading.Lock()
        self._kept: list[Kept] = []
        self._folded: Counts | None = None
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
        kept = self._kept
        mask = kwargs.get("attention_mask")
        position_ids = kwargs.get("position_ids") if mask is None else None
        kept.append((input_ids, mask, kwargs.get("labels"), position_ids))
        if len(kept) >= MAX_KEPT:
            self._fold()

    def _fold(self) -> None:
        """Fold the kept micro-batches into running counts (device-side adds, nothing read)."""
        if self._folded is None:
            self._folded = Counts()
        self._folded.add(self._kept, self.pad_token_id)
        self._kept = []

    def take(self) -> Taken:
        """The micro-batches seen since the last take, to be counted later by :meth:`count`
        (an exchange of two references: it runs on the training thread at every row)."""
        taken = (self._kept, self._folded)
        self._kept, self._folded = [], None
        return taken

    def count(self, taken: Taken) -> dict[str, int]:
        """Add what :meth:`take` gave to the totals and return them: ``real``, ``slots``,
        ``loss_bearing`` and ``seq_length`` since the run's start (the base included). Takes
        are counted in the order they were taken, on any thread."""
        kept, folded = taken
        with self._lock:
            totals = self._totals
            if kept or folded is not None:
                counts = folded or Counts()
                counts.add(kept, self.pad_token_id)
                for kind, count in counts.read().items():
                    totals[kind] += count
                totals["seq_length"] = counts.seq_length or totals["seq_length"]
            return dict(totals)

    def run_totals(self, taken: Taken) -> tuple[int, dict[str, int], int]:
        """(tokens seen, token kinds, sequence length) after counting ``taken``."""
        return split_totals(self.count(taken))

    def read(self, sum_over_processes: bool = False) -> dict[str, int]:
        """Totals since the start, counted now, over all processes when asked (a collective:
        call it on logging steps only, on every rank)."""
        totals = self.count(self.take())
        import torch.distributed as dist

        if not (sum_over_processes and dist.is_available() and dist.is_initialized()):
            return totals
        import torch

        # The collective runs where the backend expects it: the model's device. The base is
        # the run's total before a resume, the same on every rank: added once.
        own = torch.tensor([totals[kind] - self.base[kind] for kind in KINDS], device=self._device)
        dist.all_reduce(own, op=dist.ReduceOp.SUM)
        summed = zip(KINDS, own.tolist(), strict=True)
        return {
            **{kind: self.base[kind] + count for kind, count in summed},
            "seq_length": totals["seq_length"],
        }


def split_totals(totals: dict[str, int]) -> tuple[int, dict[str, int], int]:
    """(tokens seen, token kinds, sequence length) of a counter's totals: loss-bearing tokens
    are a kind only where labels were counted."""
    kinds = {"slots": totals["slots"]}
    if totals["loss_bearing"]:
        kinds["loss_bearing"] = totals["loss_bearing"]
    return totals["real"], kinds, totals["seq_length"]


def micro_batch_counts(
    input_ids: Any,
    mask: Any,
    labels: Any,
    pad_token_id: int | None,
    position_ids: Any = None,
) -> Any:
    """(real, loss_bearing) of one micro-batch as 0-dim tensors on its device: real is None where
    every slot counts (no mask, no pad token), loss_bearing None without labels."""
    if mask is not None:
        real = mask.count_nonzero()
    elif position_ids is not None and pad_token_id is not None:
        real = input_ids.numel() - padded_tail(input_ids, position_ids, pad_token_id)
    elif pad_token_id is not None:
        real = (input_ids != pad_token_id).count_nonzero()
    else:
        real = None
    loss_bearing = None if labels is None else labels[..., 1:].ne(IGNORE_INDEX).count_nonzero()
    return real, loss_bearing


def padded_tail(input_ids: Any, position_ids: Any, pad_token_id: int) -> Any:
    """Padding slots of a padding-free batch, as a 0-dim tensor: the run of pad ids at position 0
    that ends each row (``pad_to_multiple_of`` pads so; only a document's first token sits at
    position 0, so a row's last document is taken for padding only if it is one pad id alone)."""
    padding = (input_ids == pad_token_id) & (position_ids == 0)
    # Reversed, a running product of the flags stays 1 exactly along the row's padded tail.
    return padding.flip(-1).cumprod(-1).sum()
