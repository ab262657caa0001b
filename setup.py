"""Ships ``hf_tracking_startup.pth`` at the top of site-packages, in wheels and editable installs.

A ``.pth`` file must sit in site-packages itself, which neither ``packages`` nor ``data_files``
(relative to the environment's prefix) can express. A wheel gets it through ``build_py``, which
copies it next to the packages in ``build_lib``. An editable install ignores ``build_lib``: its
wheel holds only what the editable strategy writes (setuptools' own ``__editable__*.pth`` and
finder), so ``editable_wheel`` wraps the chosen strategy to write the file into that wheel too.
Everything else is declared in setup.cfg.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "hf_tracking_startup.pth"
PTH_TEXT = (Path(__file__).resolve().parent / PTH).read_text(encoding="utf-8")


class BuildPyWithStartupHook(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:
            self.copy_file(PTH, str(Path(self.build_lib, PTH)), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        return outputs if self.editable_mode else [*outputs, str(Path(self.build_lib, PTH))]


class _StrategyWithStartupHook:
    def __init__(self, strategy):
        self._strategy = strategy

    def __call__(self, wheel, files, mapping):
        self._strategy(wheel, files, mapping)
        wheel.writestr(PTH, PTH_TEXT.encode("utf-8"))

    def __enter__(self):
        self._strategy.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._strategy.__exit__(*exc_info)


class EditableWheelWithStartupHook(editable_wheel):
    def _select_strategy(self, *args, **kwargs):
        return _StrategyWithStartupHook(super()._select_strategy(*args, **kwargs))


commands = {"build_py": BuildPyWithStartupHook}
# _select_strategy is where setuptools (64 and later) picks how an editable wheel is made; a
# setuptools without it still installs, without the hook (then scripts need `import hf_tracking`).
if hasattr(editable_wheel, "_select_strategy"):
    commands["editable_wheel"] = EditableWheelWithStartupHook
setup(cmdclass=commands)
