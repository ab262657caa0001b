"""Per-block norms of a model's gradients, parameters and updates, kept on the device.

The blocks: each item of the model's largest ``ModuleList`` (the transformer blocks,
``block_0``...), the parameters of its ``Embedding`` modules (``embeddings``) and everything else
(final norm, output head: ``head``). Every parameter is in exactly one block (a tied output head is
the embedding's parameter, counted once).

Runs on logging steps only, when ``track_layers`` is on: :meth:`LayerNorms.before_step` (gradients
in place, before ``optimizer.step()``) takes each block's gradient sum of squares and a copy of
the parameters; :meth:`LayerNorms.after_step` takes the update's and the parameters' sums of
squares. Everything stays on the device (no sync); the three small tensors are read as the row is
built, on the writer thread. The copy holds one more model's worth of parameters until the step
ends.
"""

from __future__ import annotations

from typing import Any

from hf_tracking.catalog import PARAM_NORM, UPDATE_NORM, UPDATE_RATIO
from hf_tracking.metrics.layer_norms import clip_coefficient, layer_norms

TOTALS = {"param_norm": PARAM_NORM, "update_norm": UPDATE_NORM, "update_ratio": UPDATE_RATIO}


def parameter_blocks(model: Any) -> dict[str, list[str]]:
    """Block name → names of its parameters, in the model's order."""
    import torch

    blocks_list, size = None, -1
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module):
            count = sum(p.numel() for p in module.parameters())
            if count > size:
                blocks_list, size = module, count
    owner: dict[int, str] = {}
    if blocks_list is not None:
        for index, block in enumerate(blocks_list):
            for parameter in block.parameters():
                owner.setdefault(id(parameter), f"block_{index}")
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            for parameter in module.parameters():
                owner.setdefault(id(parameter), "embeddings")
    blocks: dict[str, list[str]] = {}
    for name, parameter in model.named_parameters():
        blocks.setdefault(owner.get(id(parameter), "head"), []).append(name)
    order = ["embeddings", *(f"block_{i}" for i in range(len(blocks_list or ()))), "head"]
    return {block: blocks[block] for block in order if block in blocks}


class LayerNorms:
    def __init__(self, model: Any) -> None:
        import torch

        self.blocks = list(parameter_blocks(model))
        named = dict(model.named_parameters())
        self.params, index = [], []
        for number, names in enumerate(parameter_blocks(model).values()):
            for name in names:
                self.params.append(named[name])
                index.append(number)
        self._index = torch.tensor(index)
        self._grads: Any = None
        self._copy: list[Any] | None = None

    def before_step(self) -> None:
        """Gradients' sums of squares per block and a copy of the parameters (device-side)."""
        import torch

        with torch.no_grad():
            present = [i for i, p in enumerate(self.params) if p.grad is not None]
            grads = [self.params[i].grad for i in present]
            everything = len(present) == len(self.params)
            self._grads = self._squares(grads, None if everything else present) if grads else None
            self._copy = [p.clone() for p in self.params]

    def after_step(self) -> tuple[Any, Any, Any] | None:
        """(grad, update, param) sums of squares per block, as device tensors; None when
        :meth:`before_step` did not run for this step."""
        import torch

        copy, self._copy = self._copy, None
        if copy is None:
            return None
        with torch.no_grad():
            torch._foreach_sub_(copy, self.params)  # the copy now holds minus the update
            return self._grads, self._squares(copy), self._squares(self.params)

    def _squares(self, tensors: list[Any], positions: list[int] | None = None) -> Any:
        """Each block's sum of the tensors' squares (``positions``: the parameters they are,
        when not all): one multi-tensor norm, one scatter-add."""
        import torch

        norms = torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float32))
        squares = norms.double().square()
        device = squares.device
        if self._index.device != device:
            self._index = self._index.to(device)
        index = self._index
        if positions is not None:
            index = index[torch.tensor(positions, device=device)]
        blocks = torch.zeros(len(self.blocks), dtype=torch.float64, device=device)
        return blocks.index_add_(0, index, squares)

    def metrics(
        self, taken: tuple[Any, Any, Any], grad_norm: float | None, max_grad_norm: float | None
    ) -> dict[str, float]:
        """The ``layers/*`` and global keys of one step's sums (one device read each); the
        gradient norms are scaled back to pre-clip with the coefficient clipping applied."""
        grads, updates, params = taken
        per_block, total = layer_norms(
            self.blocks,
            None if grads is None else grads.tolist(),
            updates.tolist(),
            params.tolist(),
            clip_coefficient(grad_norm, max_grad_norm),
        )
        values = {
            f"layers/{block}/{figure}": value
            for block, figures in per_block.items()
            for figure, value in figures.items()
        }
        values.update({TOTALS[figure]: total[figure] for figure in TOTALS})
        return values
