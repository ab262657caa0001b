"""The start-up hook (hf_tracking_startup.pth): its .pth line as site runs it, the import hook it
installs, and the package really installed (wheel and editable) in fresh environments, where an
example script that never imports hf_tracking (tests/fixtures/run_clm.py, shaped like transformers'
language-modeling examples) takes ``--report_to hf_tracking`` and programs that have nothing to do
with hf_tracking keep working with the hook broken."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.clm_example import clm_inputs
from tests.support.runs import metrics_rows, strict_json
from tests.support.venv import clean_environment, install_project, make_venv

ROOT = Path(__file__).resolve().parents[1]
RUN_CLM = ROOT / "tests" / "fixtures" / "run_clm.py"
PTH_TEXT = (ROOT / "hf_tracking_startup.pth").read_text()
# What site does with each .pth file of a site directory at start-up: twice, as Python 3.11 does
# for a virtual environment's site-packages.
ADD_SITE_DIR = (
    "import site, sys; site.addsitedir(sys.argv[1]); site.addsitedir(sys.argv[1]); "
    "print(sum(type(f).__name__ == 'RegisteringFinder' for f in sys.meta_path))"
)


def python(
    code: str,
    *arguments: str,
    flags: tuple[str, ...] = (),
    executable: str | Path = sys.executable,
    **env: str,
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(executable), *flags, "-c", code, *arguments],
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def hook_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("hf_tracking:")]


def site_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "site"
    directory.mkdir()
    shutil.copy2(ROOT / "hf_tracking_startup.pth", directory)
    return directory


# ---------------------------------------------------------------- the .pth line, without site
def test_pth_line_installs_the_finder_and_nothing_else(tmp_path):
    result = python(ADD_SITE_DIR, str(site_dir(tmp_path)), flags=("-S",), PYTHONPATH=str(ROOT))
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "1", "")


@pytest.mark.parametrize("value", ["0", "false", "OFF"])
def test_environment_variable_switches_the_hook_off(tmp_path, value):
    result = python(
        ADD_SITE_DIR,
        str(site_dir(tmp_path)),
        flags=("-S",),
        PYTHONPATH=str(ROOT),
        HF_TRACKING_AUTOLOAD=value,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "0", "")


def test_missing_module_costs_one_line_on_stderr(tmp_path):
    # -S and no PYTHONPATH: hf_tracking_startup is nowhere, as in a half-removed install.
    result = python(ADD_SITE_DIR, str(site_dir(tmp_path)), flags=("-S",))
    assert result.returncode == 0 and result.stdout.strip() == "0"
    assert len(result.stderr.splitlines()) == 1
    assert "ModuleNotFoundError" in hook_lines(result.stderr)[0]


def test_failing_module_costs_one_line_on_stderr(tmp_path):
    directory = site_dir(tmp_path)
    (directory / "hf_tracking_startup.py").write_text("raise RuntimeError('broken on purpose')\n")
    result = python(ADD_SITE_DIR, str(directory), flags=("-S",))
    assert result.returncode == 0 and result.stdout.strip() == "0"
    assert len(result.stderr.splitlines()) == 1
    assert "RuntimeError: broken on purpose" in hook_lines(result.stderr)[0]


def test_import_hf_tracking_imports_neither_accelerate_nor_torch():
    code = (
        "import sys, hf_tracking; "
        "print([m for m in ('accelerate', 'torch', 'transformers', 'scipy', 'threadpoolctl') "
        "if m in sys.modules])"
    )
    result = python(code, PYTHONPATH=str(ROOT))
    assert result.stdout.strip() == "[]", result.stderr


def test_report_to_all_is_transformers_own_list():
    # Documented decision: "all" stays transformers' hard-coded list of its own integrations.
    from transformers import TrainingArguments

    import hf_tracking  # noqa: F401

    args = TrainingArguments(output_dir="out", report_to="all", use_cpu=True)
    assert "hf_tracking" not in args.report_to


# ---------------------------------------------------------------- the import hook
@pytest.mark.slow
def test_hook_registers_with_transformers_and_accelerate_when_they_are_imported():
    code = """
import sys, hf_tracking_startup
hf_tracking_startup.autoload()
import json, logging, email.message  # unrelated imports: nothing happens
assert "hf_tracking" not in sys.modules
from accelerate import Accelerator
from transformers import Trainer
from accelerate.tracking import LOGGER_TYPE_TO_CLASS
from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK
print(INTEGRATION_TO_CALLBACK["hf_tracking"].__name__, LOGGER_TYPE_TO_CLASS["hf_tracking"].__name__)
print(any(type(f).__name__ == "RegisteringFinder" for f in sys.meta_path))
"""
    result = python(code, PYTHONPATH=str(ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == ["TrackingCallback AccelerateTracker", "False"]
    assert hook_lines(result.stderr) == []


@pytest.mark.slow
def test_other_import_hooks_before_ours_do_not_stop_the_registration():
    """One hook goes before ours before ``import hf_tracking``, another one after it: each finds
    every module itself, transformers' included."""
    code = """
import importlib.machinery, sys, hf_tracking_startup
hf_tracking_startup.autoload()
class FindsEverything:
    def find_spec(self, name, path=None, target=None):
        return importlib.machinery.PathFinder.find_spec(name, path, target)
sys.meta_path.insert(0, FindsEverything())
import hf_tracking
sys.meta_path.insert(0, FindsEverything())
from transformers import Trainer, TrainingArguments
from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK
print(INTEGRATION_TO_CALLBACK["hf_tracking"].__name__)
"""
    result = python(code, PYTHONPATH=str(ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "TrackingCallback"


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault", ["RuntimeError('half-removed on purpose')", "SystemExit('half-removed on purpose')"]
)
def test_broken_package_never_breaks_the_import_that_triggers_the_hook(tmp_path, fault):
    # Fault: an hf_tracking package that fails to import (or exits), ahead of the real one.
    fake = tmp_path / "fault" / "hf_tracking"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise {fault}\n")
    code = """
import hf_tracking_startup
hf_tracking_startup.autoload()
from accelerate import Accelerator
import accelerate.tracking as tracking
print("hf_tracking" in tracking.LOGGER_TYPE_TO_CLASS, Accelerator.__name__)
"""
    result = python(code, PYTHONPATH=f"{tmp_path / 'fault'}:{ROOT}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "False Accelerator"
    (line,) = hook_lines(result.stderr)
    assert "half-removed on purpose" in line
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- installed for real
@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory):
    directory = tmp_path_factory.mktemp("wheel")
    executable = make_venv(directory / "env")
    return executable, install_project(executable, directory, editable=False)


@pytest.fixture(scope="module")
def editable_install(tmp_path_factory):
    directory = tmp_path_factory.mktemp("editable")
    executable = make_venv(directory / "env")
    return executable, install_project(executable, directory, editable=True), directory


def test_the_example_script_is_written_for_this_repository():
    # The script the wheel test runs is the project's own: short, under no other project's
    # copyright, and it reaches hf_tracking only through --report_to.
    text = RUN_CLM.read_text()
    assert len(text.splitlines()) < 400
    assert not re.search(r"copyright|licensed under", text, re.IGNORECASE)
    assert "hf_tracking" not in text and "HfArgumentParser" in text


@pytest.mark.slow
def test_wheel_install_gives_an_example_script_report_to_hf_tracking(wheel_install, tmp_path):
    executable, site_packages = wheel_install
    assert (site_packages / "hf_tracking_startup.pth").read_text() == PTH_TEXT
    script = tmp_path / "run_clm.py"
    shutil.copy2(RUN_CLM, script)
    assert filecmp.cmp(RUN_CLM, script, shallow=False)
    assert "hf_tracking" not in script.read_text()
    inputs = clm_inputs(tmp_path)
    arguments = [
        "--config_name", inputs["config"], "--tokenizer_name", inputs["tokenizer"],
        "--train_file", "train.txt", "--validation_file", "validation.txt",
        "--block_size", "32", "--do_train", "--do_eval", "--max_steps", "6",
        "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4",
        "--max_eval_samples", "8", "--logging_steps", "2", "--eval_strategy", "steps",
        "--eval_steps", "3", "--save_strategy", "no", "--output_dir", "out",
        "--report_to", "hf_tracking", "--use_cpu", "--seed", "0", "--disable_tqdm", "true",
    ]  # fmt: skip
    result = subprocess.run(
        [str(executable), str(script), *arguments],
        cwd=tmp_path,
        env=clean_environment(HF_HOME=str(tmp_path / "hf_home"), WANDB_MODE="disabled"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    (summary_path,) = (tmp_path / "experiments").glob("*_summary.json")
    summary = strict_json(summary_path)
    assert summary["status"] == "finished"
    rows = metrics_rows(summary["run_dir"])
    train = [row["time/gradient_steps"] for row in rows if row["event"] == "train"]
    val = [row["time/gradient_steps"] for row in rows if row["event"] == "val"]
    # The script's own evaluate() after train() (--do_eval) belongs to the run, at the last step.
    assert train == [2, 4, 6] and val == [3, 6, 6]
    assert summary["totals"]["evaluations"] == 3
    assert all(row["val/accuracy"] >= 0 for row in rows if row["event"] == "val")
    assert hook_lines(result.stderr) == []


@pytest.mark.slow
def test_programs_run_with_the_installed_hook_broken(wheel_install, tmp_path):
    executable, site_packages = wheel_install
    module = site_packages / "hf_tracking_startup.py"
    package = site_packages / "hf_tracking"
    saved = module.read_text()
    plain = "import json, pathlib; print(json.dumps(sum(range(10))))"
    try:
        module.write_text("raise RuntimeError('broken on purpose')\n")
        result = python(plain, executable=executable)
        assert (result.returncode, result.stdout.strip()) == (0, "45")
        (line,) = result.stderr.splitlines()
        assert "broken on purpose" in line
        assert python(plain, executable=executable, HF_TRACKING_AUTOLOAD="0").stderr == ""

        module.write_text(saved)
        package.rename(tmp_path / "hf_tracking_moved_away")  # half-removed
        result = python(plain, executable=executable)
        assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "45", "")
        code = "import accelerate.tracking as t; print(sorted(t.LOGGER_TYPE_TO_CLASS)[0])"
        result = python(code, executable=executable)
        assert result.returncode == 0 and result.stdout.strip() == "aim", result.stderr[-3000:]
        (line,) = hook_lines(result.stderr)
        assert "No module named 'hf_tracking'" in line
    finally:
        module.write_text(saved)
        if not package.exists():
            (tmp_path / "hf_tracking_moved_away").rename(package)


@pytest.mark.slow
def test_editable_install_registers_by_name(editable_install, tmp_path):
    executable, site_packages, source = editable_install
    assert (site_packages / "hf_tracking_startup.pth").read_text() == PTH_TEXT
    assert list(site_packages.glob("__editable__*.pth"))
    code = """
import sys
from accelerate import Accelerator
from transformers import GPT2Config, GPT2LMHeadModel, HfArgumentParser, Trainer, TrainingArguments
(args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
    ["--output_dir", "out", "--report_to", "hf_tracking", "--use_cpu"]
)
model = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=1))
trainer = Trainer(model=model, args=args)
print([type(c).__name__ for c in trainer.callback_handler.callbacks if "Tracking" in type(c).__name__])
print(Accelerator(log_with="hf_tracking", cpu=True).log_with)
print(sys.modules["hf_tracking"].__file__)
"""
    result = python(code, executable=executable)
    assert result.returncode == 0, result.stderr[-3000:]
    callbacks, log_with, location = result.stdout.splitlines()[-3:]
    assert (callbacks, log_with) == ("['TrackingCallback']", "['hf_tracking']")
    assert Path(location).is_relative_to(source)  # the checkout, not a copy in site-packages
    benchmark = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark_startup.py"), "--quick", "--python",
         str(executable), "--output", str(tmp_path / "startup.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert benchmark.returncode == 0, benchmark.stderr[-3000:]
    figures = json.loads((tmp_path / "startup.json").read_text())
    assert figures["extra_modules"] == ["hf_tracking_startup"]
    assert figures["finder_installed"] and not figures["finder_installed_when_switched_off"]
    assert figures["hook_import_us"]["median"] > 0 and "difference_min" in figures["site_us"]
