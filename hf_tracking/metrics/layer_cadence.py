"""How often ``track_layers`` takes its per-block norms: the steps between takes.

A take reads every gradient and parameter and copies the parameters around
``optimizer.step()``, on the training thread: tensor work that grows with the model (on a tiny
CPU model about a third of an AdamW step). Taken on every step of a run that logs every step, it
would cost more than everything else the tracker does there, so by default takes are spaced:
their training-thread time, shared over the steps between them, stays within
:data:`BUDGET_SECONDS` a step or :data:`BUDGET_SHARE` of the step's own time, whichever is larger.
The spacing is a 1-2-5 number of steps (1, 2, 5, 10, 20, 50, ...); a logging step that is a
multiple of it takes the norms. The first logging step always does (it measures the cost); the
cost is the least of the last :data:`COST_SAMPLES` takes, since a take only ever runs longer than
its work when the thread is preempted. ``track_layers_every: N`` fixes the spacing at N instead.
"""

from __future__ import annotations

BUDGET_SECONDS = 5e-6
BUDGET_SHARE = 0.0002
COST_SAMPLES = 3


def nice_spacing(steps: float) -> int:
    """The smallest 1-2-5 number (1, 2, 5, 10, 20, ...) that is at least ``steps``."""
    decade = 1
    while True:
        for factor in (1, 2, 5):
            if decade * factor >= steps:
                return decade * factor
        decade *= 10


def budget_seconds(step_seconds: float | None) -> float:
    """A step's share of take time: the larger of the two budgets."""
    return max(BUDGET_SECONDS, BUDGET_SHARE * (step_seconds or 0.0))


class LayerCadence:
    """Which steps take the norms (``every``: a fixed spacing; None: within the budget)."""

    def __init__(self, every: int | None = None) -> None:
        self.every = every
        self.spacing = every or 1
        self._costs: list[float] = []

    def due(self, step: int) -> bool:
        return step % self.spacing == 0

    def taken(self, seconds: float, step_seconds: float | None) -> int | None:
        """Note a take's training-thread ``seconds`` (``step_seconds``: a step's own time);
        returns the new spacing when it changed, else None."""
        if self.every is not None:
            return None
        self._costs = [*self._costs[1 - COST_SAMPLES :], seconds]
        spacing = nice_spacing(min(self._costs) / budget_seconds(step_seconds))
        if spacing == self.spacing:
            return None
        self.spacing = spacing
        return spacing
