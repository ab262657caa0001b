"""The token counter: kept micro-batches counted when asked, folded ones, takes counted later or
on another thread, all agree."""

from __future__ import annotations

import threading

import pytest
import torch

from hf_tracking import tokens
from hf_tracking.tokens import TokenCounter

IDS = torch.tensor([[5, 6, 0, 0], [1, 2, 3, 0]])
LABELS = torch.tensor([[5, 6, -100, -100], [1, 2, 3, -100]])


class Inputs(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids=None, attention_mask=None, labels=None, position_ids=None):
        return None


class OnDevice(torch.Tensor):
    """A host tensor that says it is elsewhere: the counter then keeps its counts as tensors and
    reads them once, as it does on a GPU (host counts are read at once)."""

    @property
    def is_cpu(self) -> bool:
        return False


def counted(batches: list[dict], pad_token_id: int | None = 0, path: str = "kept"):
    if path == "device":
        batches = [{key: value.as_subclass(OnDevice) for key, value in b.items()} for b in batches]
    counter = TokenCounter(pad_token_id=pad_token_id)
    model = Inputs()
    counter.attach(model)
    takes = []
    for batch in batches:
        model(**batch)
        if path == "takes":  # a take a step, counted later, in order
            takes.append(counter.take())
    for taken in takes:
        counter.count(taken)
    model.eval()
    model(**batches[0])  # evaluation forwards are not counted
    if path == "other_thread":
        taken, found = counter.take(), []
        thread = threading.Thread(target=lambda: found.append(counter.count(taken)))
        thread.start()
        thread.join()
        counts = found[0]
    else:
        counts = counter.read()
    return {kind: counts[kind] for kind in tokens.KINDS}


PATHS = ["kept", "folded", "takes", "other_thread", "device"]


@pytest.fixture(autouse=True)
def fold_every_two(request, monkeypatch):
    if "folded" in request.node.name:
        monkeypatch.setattr(tokens, "MAX_KEPT", 2)


@pytest.mark.parametrize("path", PATHS)
def test_mask_pad_token_and_labels(path):
    batches = [
        {"input_ids": IDS, "labels": LABELS},
        {"input_ids": IDS, "attention_mask": (IDS != 0).long()},
        {"input_ids": IDS, "attention_mask": (IDS != 0).to(torch.bfloat16)},
    ]
    # Real: 5 non-pad tokens per batch; loss-bearing: labels after the one-position shift.
    assert counted(batches, path=path) == {
        "real": 15,
        "slots": 24,
        "loss_bearing": 3,
    }


@pytest.mark.parametrize("path", PATHS)
def test_without_mask_or_pad_token_every_slot_is_real(path):
    counts = counted([{"input_ids": IDS}], pad_token_id=None, path=path)
    assert counts == {"real": 8, "slots": 8, "loss_bearing": 0}


@pytest.mark.parametrize("path", PATHS)
def test_every_mask_dtype_counts_its_non_zero_positions(path):
    # A packed mask numbers its sequences (1, 2, ...): positions count, not their sum.
    packed = torch.tensor([[1, 1, 2, 2], [3, 3, 3, 0]])
    batches = [
        {"input_ids": IDS, "attention_mask": packed},
        {"input_ids": IDS, "attention_mask": packed != 0},
        {"input_ids": IDS, "attention_mask": packed.float()},
        {"input_ids": IDS, "attention_mask": packed.to(torch.int32), "labels": LABELS},
    ]
    assert counted(batches, path=path) == {
        "real": 28,
        "slots": 32,
        "loss_bearing": 3,
    }


@pytest.mark.parametrize("path", PATHS)
def test_padding_free_rows_count_their_pad_ids_but_not_a_padded_tail(path):
    # Three documents laid end to end, each ending with the pad id (0, as TRL sets it when the
    # tokenizer has none); the second batch is padded to a multiple of 4 by a tail at position 0.
    ids = torch.tensor([[7, 8, 0, 9, 0, 5, 6, 0]])
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2]])
    padded_ids = torch.tensor([[7, 0, 9, 0, 0, 0, 0, 0]])
    padded_positions = torch.tensor([[0, 1, 0, 1, 0, 0, 0, 0]])
    batches = [
        {"input_ids": ids, "position_ids": positions},
        {"input_ids": padded_ids, "position_ids": padded_positions},
        # With an attention mask, the mask decides, whatever the positions.
        {"input_ids": IDS, "attention_mask": (IDS != 0).long(), "position_ids": IDS * 0},
    ]
    assert counted(batches, path=path)["real"] == 8 + 4 + 5
