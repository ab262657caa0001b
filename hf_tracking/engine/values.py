"""Checks of the values callers pass, made where they are passed, so nothing bad enters state.

Numbers are Python ints and floats, numpy scalars, or one-element tensors (read with one device
sync, on logging steps only). NaN and inf are accepted (logged as null and counted in
``train/nonfinite_count``); a value too large for a float, a tensor of several elements, on the
meta device or of a non-numeric dtype is refused with an error naming the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from hf_tracking.config import MAX_INT


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "detach") and hasattr(value, "numel")


def check_number(name: str, value: Any, allow_none: bool = False) -> None:
    """Raise TypeError/ValueError naming ``name`` unless ``value`` is a usable number."""
    if value is None:
        if allow_none:
            return
        raise TypeError(f"hf_tracking: {name} must be a number, got None")
    if value.__class__ is float:
        return
    if isinstance(value, bool) or value.__class__ is str:
        raise TypeError(f"hf_tracking: {name} must be a number or a 0-dim tensor, got {value!r}")
    if _is_tensor(value):
        _check_tensor(name, value)
        return
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            raise ValueError(
                f"hf_tracking: {name} is too large for a float: {value!r:.40}"
            ) from None
        return
    shape = getattr(value, "shape", None)
    if shape == () and hasattr(value, "item"):  # a numpy scalar or 0-dim array
        check_number(name, value.item(), allow_none)
        return
    raise TypeError(
        f"hf_tracking: {name} must be a number or a one-element tensor, got "
        f"{type(value).__name__}{'' if shape is None else f' of shape {tuple(shape)}'}"
    )


def _check_tensor(name: str, tensor: Any) -> None:
    if (
        str(tensor.layout) != "torch.strided"
        or tensor.is_quantized
        or getattr(tensor, "is_nested", False)
    ):
        raise TypeError(
            f"hf_tracking: {name} must be a dense tensor, got layout {tensor.layout}"
            f"{' (quantized)' if tensor.is_quantized else ''}"
        )
    if tensor.numel() != 1:
        raise ValueError(
            f"hf_tracking: {name} must be a single number, got a tensor of shape "
            f"{tuple(tensor.shape)}"
        )
    if tensor.device.type == "meta":
        raise ValueError(f"hf_tracking: {name} is a meta-device tensor, which holds no value")
    if tensor.is_complex() or str(tensor.dtype) == "torch.bool":
        raise TypeError(f"hf_tracking: {name} must be a real number, got dtype {tensor.dtype}")


def is_seconds(value: Any) -> bool:
    """A finite number >= 0 (seconds, rates): what a saved state may hold for them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value)) and value >= 0
    except OverflowError:
        return False


def check_duration(name: str, value: Any) -> None:
    """None, or a finite number of seconds >= 0."""
    check_number(name, value, allow_none=True)
    seconds = as_float(value)
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"hf_tracking: {name} must be a finite number >= 0, got {seconds!r}")


def as_float(value: Any) -> float | None:
    """A Python float from a checked number (one device read for a tensor)."""
    if value is None or value.__class__ is float:
        return value
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


def mean_of(values: list[Any]) -> float | None:
    """Mean of checked numbers, with a single device read for all the tensors among them."""
    if not values:
        return None
    for value in values:  # a loop, not all(): no generator on the common all-float path
        if value.__class__ is not float:
            break
    else:
        return math.fsum(values) / len(values)
    tensors = [value for value in values if _is_tensor(value)]
    plain = [float(value) for value in values if not _is_tensor(value)]
    if not tensors:
        return math.fsum(plain) / len(values)
    import torch

    # One stack and one .item(): a single host-device sync, on a logging step.
    tensor_sum = torch.stack([t.detach().float().reshape(()) for t in tensors]).sum().item()
    return (tensor_sum + math.fsum(plain)) / len(values)


def checked_tokens(tokens: Any) -> int | Any:
    """A whole number from 0 to ``MAX_INT`` as an int, or a one-element integer tensor as it is (added up on its
    device); anything else raises an error naming ``tokens``."""
    if tokens.__class__ is int and 0 <= tokens <= MAX_INT:
        return tokens
    if _is_tensor(tokens):
        _check_tensor("tokens", tokens)
        if tokens.is_floating_point():
            raise TypeError(f"hf_tracking: tokens must be a whole number, got {tokens!r}")
        if tokens.device.type != "cpu":
            return tokens.detach().reshape(())  # added up on its device, read on logging steps
        tokens = tokens.item()
    if hasattr(tokens, "item") and getattr(tokens, "shape", ()) == ():
        tokens = tokens.item()
    if isinstance(tokens, bool) or not isinstance(tokens, (int, float)):
        raise TypeError(f"hf_tracking: tokens must be a whole number, got {tokens!r}")
    if isinstance(tokens, float) and not (math.isfinite(tokens) and tokens.is_integer()):
        raise TypeError(f"hf_tracking: tokens must be a whole number, got {tokens!r}")
    if tokens < 0:
        raise ValueError(f"hf_tracking: tokens must be >= 0, got {tokens!r}")
    if tokens > MAX_INT:
        raise ValueError(f"hf_tracking: tokens must be at most 2**53 a call, got {tokens!r:.40}")
    return int(tokens)


def checked_step(name: str, value: Any) -> int:
    """A whole number from 0 to ``MAX_INT`` for ``iteration``, ``accumulation_step`` and
    ``num_batches``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"hf_tracking: {name} must be an integer, got {value!r:.40}")
    if not 0 <= value <= MAX_INT:
        raise ValueError(f"hf_tracking: {name} must be from 0 to 2**53, got {value!r:.40}")
    return int(value)
