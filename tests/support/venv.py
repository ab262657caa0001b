"""A fresh virtual environment with hf_tracking really installed (wheel or editable), offline.

The environment's own site-packages holds only what ``pip install`` puts there; the dependencies
(torch, transformers, accelerate, ...) come from the test interpreter's site-packages through a
path line in a ``.pth`` file. A path line only extends ``sys.path``: the ``.pth`` files of those
directories (among them the test interpreter's own hf_tracking install) are not run.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a source distribution of the project holds: enough to build and install it.
PROJECT_FILES = (
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "hf_tracking_startup.py",
    "hf_tracking_startup.pth",
)


def make_venv(directory: Path) -> Path:
    """Create the environment; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"))
    dependencies = [path for path in site.getsitepackages() if Path(path).is_dir()]
    (purelib / "_test_dependencies.pth").write_text("\n".join(dependencies) + "\n")
    return python


def install_project(python: Path, directory: Path, editable: bool) -> Path:
    """Copy the project to ``directory``/hf-tracking and pip-install it into ``python``'s
    environment, without the network or build isolation; return the environment's site-packages."""
    source = directory / "hf-tracking"
    source.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "hf_tracking", source / "hf_tracking", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = ["-e", str(source)] if editable else [str(source)]
    command = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    run(python, *command, *target)
    return Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"))


def clean_environment(**overrides: str) -> dict[str, str]:
    """The test's environment without PYTHONPATH (which would put this checkout first)."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.update(overrides)
    return environment


def run(python: Path, *arguments: str) -> str:
    completed = subprocess.run(
        [str(python), *arguments],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout.strip()
