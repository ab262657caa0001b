"""The start-up hook that makes ``--report_to hf_tracking`` and ``log_with="hf_tracking"`` work in
scripts that never import hf_tracking.

Installing the package puts ``hf_tracking_startup.pth`` in site-packages. Its one line runs at
every interpreter start (unless ``HF_TRACKING_AUTOLOAD`` is ``0``, ``false``, ``no`` or ``off``),
imports this module and calls :func:`autoload`, which puts :class:`RegisteringFinder` at the front of
``sys.meta_path``. That is all the start-up does: this module imports only ``sys``,
loaded before any ``.pth`` file is read.

The finder answers for three module names only. Right after
``transformers.integrations.integration_utils`` (whose ``INTEGRATION_TO_CALLBACK`` the Trainer
reads ``report_to`` names from) or ``accelerate.tracking`` (``LOGGER_TYPE_TO_CLASS``, read for
``log_with`` names) is first executed, it imports ``hf_tracking._registration`` and lets it add
the entry (after ``accelerate.accelerator``, it wraps the few ``Accelerator`` methods through
which every process of a loop logging with hf_tracking counts its tokens:
:mod:`hf_tracking.trainer.accelerate_hooks`); once all have been seen it leaves ``sys.meta_path``.
``import hf_tracking`` installs the same finder, so the two paths never add two, and puts it back
at the front when another import hook went before it. A hook before it that finds a watched
module itself keeps the finder from hooking its loader: then the finder adds the entry the next
time it is asked for any module (imports go on after the watched one: the rest of transformers,
accelerate, the Trainer's own).

A broken hf_tracking never breaks the program: every failure here is caught and reported in at
most one line on stderr per process. The ``.pth`` line does nothing once it has run in a process,
as Python 3.11 runs the ``.pth`` files of a virtual environment's site-packages twice.
"""

import sys

# Start-up imports nothing that is not loaded already (__future__, typing and collections.abc
# are not), so annotations are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType
    from typing import Any

ENVIRONMENT_SWITCH = "HF_TRACKING_AUTOLOAD"
TRANSFORMERS_MODULE = "transformers.integrations.integration_utils"
ACCELERATE_MODULE = "accelerate.tracking"
ACCELERATOR_MODULE = "accelerate.accelerator"
WATCHED_MODULES = (TRANSFORMERS_MODULE, ACCELERATE_MODULE, ACCELERATOR_MODULE)
_reported = False


def report_failure(error: BaseException) -> None:
    """One line on stderr, the first time only: the program goes on without the entry."""
    global _reported
    if _reported:
        return
    _reported = True
    try:  # noqa: SIM105  (contextlib is not loaded at start-up)
        sys.stderr.write(
            f"hf_tracking: report_to/log_with 'hf_tracking' not registered "
            f"({type(error).__name__}: {error}); {ENVIRONMENT_SWITCH}=0 turns this hook off\n"
        )
    except Exception:  # stderr closed or unwritable: nothing left to tell
        pass


def _registered(name: str, module: "ModuleType") -> None:
    try:
        from hf_tracking._registration import register_loaded

        register_loaded(name, module)
    except (Exception, SystemExit) as error:  # never break the import that triggered this
        report_failure(error)


def _hooked(loader: "Any", name: str) -> None:
    # The loader object is the one the import system uses for this module only; patching its
    # exec_module keeps its class (get_source, resource readers) as it is.
    execute: Callable[[ModuleType], None] = loader.exec_module

    def exec_module(module: "ModuleType") -> None:
        execute(module)
        _registered(name, module)

    loader.exec_module = exec_module


class RegisteringFinder:
    """A meta-path finder that finds nothing itself: for a watched module it asks the finders
    after it and hooks the module's loader so that the entry is added once the module ran."""

    def __init__(self, names: "Sequence[str]") -> None:
        self.pending = set(names)

    def find_spec(
        self,
        fullname: str,
        path: "Sequence[str] | None" = None,
        target: "ModuleType | None" = None,
    ) -> "Any":
        if fullname not in self.pending:
            if self.pending:
                self._register_loaded_elsewhere()
            return None
        try:
            self.pending.discard(fullname)
            if not self.pending and self in sys.meta_path:
                sys.meta_path.remove(self)
            for finder in list(sys.meta_path):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        _hooked(spec.loader, fullname)
                    return spec
        except (Exception, SystemExit) as error:  # the import goes on through the next finders
            report_failure(error)
        return None

    def _register_loaded_elsewhere(self) -> None:
        """Add the entry to a watched module that another finder loaded (complete by now)."""
        for name in list(self.pending):
            module = sys.modules.get(name)
            if module is None or getattr(module.__spec__, "_initializing", False):
                continue
            self.pending.discard(name)
            if not self.pending and self in sys.meta_path:
                sys.meta_path.remove(self)
            _registered(name, module)


def install(names: "Sequence[str]" = WATCHED_MODULES) -> None:
    """Watch ``names`` (those not imported yet); one finder serves every caller, first on
    ``sys.meta_path``."""
    names = [name for name in names if name not in sys.modules]
    if not names:
        return
    for finder in sys.meta_path:
        if isinstance(finder, RegisteringFinder):
            finder.pending.update(names)
            if sys.meta_path[0] is not finder:
                sys.meta_path.remove(finder)
                sys.meta_path.insert(0, finder)
            return
    sys.meta_path.insert(0, RegisteringFinder(names))


def autoload() -> None:
    """What ``hf_tracking_startup.pth`` runs at start-up."""
    try:
        install()
    except (Exception, SystemExit) as error:
        report_failure(error)
