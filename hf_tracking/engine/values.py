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
    if tensor.numel() != 1:
        raise ValueError(
            f"hf_tracking: {name} must be a single number, got a tensor of shape "
            f"{tuple(tensor.shape)}"
        )
    if tensor.device.type == "meta":
        raise ValueError(f"hf_tracking: {name} is a meta-device tensor, which holds no value")
    if tensor.is_complex() or str(tensor.dtype) == "torch.bool":
        raise TypeError(f"hf_tracking: {name} must be a real number, got dtype {tensor.dtype}")


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
    if all(value.__class__ is float for value in values):
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
    """A whole number >= 0 as an int, or a one-element integer tensor as it is (added up on its
    device); anything else raises an error naming ``tokens``."""
    if tokens.__class__ is int and tokens >= 0:
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
    return int(tokens)


def checked_step(name: str, value: Any) -> int:
    """A whole number >= 0 for ``iteration`` and ``accumulation_step``."""
    if value.__class__ is int and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"hf_tracking: {name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"hf_tracking: {name} must be >= 0, got {value!r}")
    return int(value)
