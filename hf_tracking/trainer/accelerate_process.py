"""What every process of an accelerate loop that logs with hf_tracking does for the tracker.

accelerate builds trackers on the main process only (``init_trackers`` and ``log`` run there
alone), so the batches of the other processes are out of the tracker's sight. For an
``Accelerator`` whose ``log_with`` names hf_tracking, the methods :mod:`.accelerate_hooks` wraps
give each process one :class:`AccelerateProcess`:

- a forward pre-hook on the first model ``prepare`` returns (a model with an embedding layer: a
  language model; no other model's inputs are tokens) keeps each training micro-batch's
  ``input_ids``, attention mask and labels (:class:`~hf_tracking.tokens.TokenCounter`: references
  only, no tensor op, no device sync), and tells the tracker when forwards switch between
  training and evaluation (``module.training``);
- a step post-hook on the first prepared optimizer tells it of each optimizer step that ran
  (accelerate skips the inner step on micro-batches that only accumulate);
- at ``accelerator.log``, ``save_state`` and ``end_training``, which every process reaches in
  the same order, each process counts what it kept (one device read: on those events only) and
  hands its totals to the main process through the process group's key-value store. No
  collective runs: where the other processes never reach an event (a call made on the main
  process only), the main process waits at most ``AGREEMENT_SECONDS`` once for that kind of
  event, warns, and from then on counts the others' tokens at that kind of event only up to
  the latest event they all reached (never less than before);
- ``load_state`` (accelerate's ``register_load_state_pre_hook``) hands the tracker the state
  saved beside the checkpoint (:data:`STATE_FILE`), so the run continues.
"""

from __future__ import annotations

import itertools
import json
import logging
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Any

from hf_tracking.tokens import KINDS, TokenCounter

logger = logging.getLogger("hf_tracking")
STATE_FILE = "hf_tracking_state.json"
AGREEMENT_SECONDS = 10.0
# Once every process has reached an event of a kind: how long the main process waits for the
# others at the next ones (they train in step, so they arrive within a step).
LATER_SECONDS = 120.0
ATTRIBUTE = "_hf_tracking_process"
# Every process makes its Accelerators in the same order: the n-th one has the same keys.
_sequence = itertools.count()
_latest: list[weakref.ref] = []


def latest() -> AccelerateProcess | None:
    """The process part of the latest Accelerator that logs with hf_tracking, if any."""
    return _latest[0]() if _latest else None


class AccelerateProcess:
    def __init__(self, accelerator: Any) -> None:
        self.main = bool(accelerator.is_main_process)
        self._accelerator = weakref.ref(accelerator)
        self.counter: TokenCounter | None = None
        self.model: Any = None  # the unwrapped model, for its sizes
        self.listener: Any = None  # the AccelerateTracker, on the main process once it exists
        self.pending_resume: tuple[dict[str, Any], str] | None = None
        self._handles: list[Any] = []
        self._optimizer: Any = None
        self._in_step = False
        self._evaluating = False
        self._failed: set[str] = set()
        self._exchange = StoreExchange.for_world(accelerator.num_processes)
        self._handles.append(accelerator.register_load_state_pre_hook(self._before_load))
        _latest[:] = [weakref.ref(self)]
        if self.main:
            for tracker in getattr(accelerator, "trackers", []):
                if getattr(tracker, "name", None) == "hf_tracking" and hasattr(tracker, "bind"):
                    tracker.bind(self)

    def serves(self, tracker: Any) -> bool:
        """Whether ``tracker`` is one of this process's accelerator's trackers."""
        accelerator = self._accelerator()
        return accelerator is not None and tracker in getattr(accelerator, "trackers", ())

    # ------------------------------------------------------------------ hooks
    def attach(self, accelerator: Any) -> None:
        """Hook the first prepared model and optimizer (called after each ``prepare``)."""
        models = getattr(accelerator, "_models", [])
        if self.model is None and models:
            self._attach_model(models[0], accelerator.unwrap_model(models[0]))
        optimizers = getattr(accelerator, "_optimizers", [])
        if self.main and self._optimizer is None and optimizers:
            self._optimizer = getattr(optimizers[0], "optimizer", optimizers[0])
            self._handles.append(self._optimizer.register_step_post_hook(self._stepped))

    def _attach_model(self, model: Any, unwrapped: Any) -> None:
        self.model = unwrapped
        if self.main:
            self._handles.append(model.register_forward_pre_hook(self._forward))
        if reads_tokens(unwrapped):
            config = getattr(unwrapped, "config", None)
            self.counter = TokenCounter(
                pad_token_id=getattr(config, "pad_token_id", None),
                main_input_name=getattr(unwrapped, "main_input_name", "input_ids"),
            )
            self.counter.attach(model)

    def _forward(self, module: Any, args: tuple) -> None:
        # Runs on every forward of the main process: two attribute reads on most of them.
        if module.training:
            if not self._in_step:
                self._in_step = True
                self._evaluating = False
                self._tell("step_began")
        elif not self._evaluating:
            self._evaluating = True
            self._tell("evaluation_began", self._in_step)
            self._in_step = False

    def _stepped(self, optimizer: Any, args: tuple, kwargs: dict) -> None:
        self._in_step = False
        self._tell("optimizer_stepped")

    def _tell(self, event: str, *args: Any) -> None:
        """Hand an event to the tracker; a failure there is reported once and training goes on
        (these run inside the model's forward and the optimizer's step)."""
        if self.listener is None:
            return
        try:
            getattr(self.listener, event)(*args)
        except Exception as error:
            if event not in self._failed:
                self._failed.add(event)
                logger.warning(
                    "hf_tracking: tracking failed at %s (%s: %s); training goes on",
                    event,
                    type(error).__name__,
                    error,
                    exc_info=True,
                )

    def _before_load(self, models: list, input_dir: str) -> None:
        path = Path(input_dir) / STATE_FILE
        if not self.main or not path.is_file():
            return
        state = json.loads(path.read_text())
        if self.listener is not None:
            self._tell("resume_from", state, str(input_dir))
        else:
            self.pending_resume = (state, str(input_dir))

    def detach(self) -> None:
        if self.counter is not None:
            self.counter.detach()
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ------------------------------------------------------------------ events
    def event(self, kind: str) -> None:
        """``kind`` ("log", "save", "end") is reached: the tracker gets the tokens of every
        process so far (on the main process; the others send theirs)."""
        if self.counter is None:
            return
        totals = self.counter.read()  # this process's micro-batches, one device read
        if self._exchange is not None:
            totals = self._exchange.summed(kind, totals)
        if self.main and self.listener is not None:
            self.listener.take_token_totals(totals)

    def state_saved(self, location: str, seconds: float) -> None:
        if self.main and self.listener is not None:
            self.listener.checkpoint_saved(location, seconds)


def _default_store() -> Any:
    """The key-value store of the default process group."""
    from torch.distributed import distributed_c10d

    return distributed_c10d._get_default_store()


def reads_tokens(model: Any) -> bool:
    """A model with an embedding layer takes token ids (a language model): its inputs are
    counted as tokens. Any other model's inputs are not tokens."""
    import torch

    return any(isinstance(module, torch.nn.Embedding) for module in model.modules())


class StoreExchange:
    """Token totals of the other processes, sent to the main one through the store."""

    def __init__(self, rank: int, world: int) -> None:
        self._rank, self._world = rank, world
        self._prefix = f"hf_tracking/accelerate/{next(_sequence)}/"
        self._seen: dict[str, int] = {}
        self._reached: set[str] = set()  # kinds every process reached once
        self._alone: set[str] = set()  # kinds the other processes do not reach
        # The other processes' totals at the latest event they all reached (a lower bound of
        # theirs at an event they do not reach: the counts never go back).
        self._others = dict.fromkeys(KINDS, 0)

    @classmethod
    def for_world(cls, processes: int) -> StoreExchange | None:
        if processes <= 1:
            return None
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return None
        return cls(dist.get_rank(), dist.get_world_size())

    def summed(self, kind: str, own: dict[str, int]) -> dict[str, int]:
        store = _default_store()
        count = self._seen[kind] = self._seen.get(kind, 0) + 1
        key = f"{self._prefix}{kind}/{count}/"
        if self._rank != 0:
            store.set(key + str(self._rank), json.dumps(own))
            return own
        if kind in self._alone:
            return self._with_others(own)
        keys = [key + str(rank) for rank in range(1, self._world)]
        wait = LATER_SECONDS if kind in self._reached else AGREEMENT_SECONDS
        try:
            store.wait(keys, timedelta(seconds=wait))
        except RuntimeError:  # torch's DistStoreError: a timeout
            self._alone.add(kind)
            logger.warning(
                "hf_tracking: the other processes (%d) did not reach accelerator.%s within %.0f s; "
                "from here on its rows count their tokens only up to the latest call they all "
                "made (call it on every process to count them all)",
                self._world - 1,
                {"log": "log", "save": "save_state", "end": "end_training"}[kind],
                wait,
            )
            return self._with_others(own)
        self._reached.add(kind)
        others = dict.fromkeys(KINDS, 0)
        seq_length = own["seq_length"]
        for other_key in keys:
            other = json.loads(store.get(other_key))
            store.delete_key(other_key)
            for name in KINDS:
                others[name] += int(other[name])
            seq_length = max(seq_length, int(other["seq_length"]))
        self._others = others
        return {**self._with_others(own), "seq_length": seq_length}

    def _with_others(self, own: dict[str, int]) -> dict[str, int]:
        return {**own, **{name: own[name] + self._others[name] for name in KINDS}}
