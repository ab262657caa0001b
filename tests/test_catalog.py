"""The catalog is the one source of names: the documentation's metric catalog lists exactly its
keys, every key a run writes belongs to it, and the package's imports flow one way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import torch

from hf_tracking import catalog
from hf_tracking.backends import LocalRunStore
from hf_tracking.tracker import ExperimentTracker
from tests.support.configs import small_config
from tests.support.docs_site import generated_pages, table_names
from tests.support.runs import metrics_rows

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hf_tracking"


def test_the_documented_catalog_names_the_catalog_keys():
    page = generated_pages()["reference/metrics.md"]
    assert table_names(page) == list(catalog.CATALOG)
    meanings = dict(re.findall(r"^\| `([^`]+)` \| (.*) \|$", page, re.MULTILINE))
    assert meanings == {name: text.replace("|", "\\|") for name, text in catalog.CATALOG.items()}


def catalog_pattern(name: str) -> re.Pattern[str]:
    pattern = re.escape(name)
    pattern = re.sub(r"\\\{i\\\}", r"\\d+", pattern)
    pattern = re.sub(
        r"<[a-z]+>", r"[^/]+(/[^/]+)*", pattern.replace("\\<", "<").replace("\\>", ">")
    )
    return re.compile(pattern + "$")


def test_every_key_a_run_writes_is_in_the_catalog(tmp_path):
    tracker = ExperimentTracker(
        small_config(tmp_path, log_every_steps=2), backends=[LocalRunStore()]
    )
    for step in range(6):
        tracker.log_train_step(loss=torch.tensor(2.0 - step * 0.1), grad_norm=1.0, tokens=16)
    tracker.log_validation(1.5, num_batches=2, extra={"accuracy": 0.5})
    tracker.log_validation(1.6, name="held_out")
    tracker.log_checkpoint(tmp_path / "checkpoint-6")
    tracker.log_custom_metric("samples_per_second", 10.0)
    tracker.finish()
    patterns = [catalog_pattern(name) for name in catalog.CATALOG]
    keys = {key for row in metrics_rows(tracker.run_dir) for key in row if key != "event"}
    assert keys
    unknown = sorted(key for key in keys if not any(p.match(key) for p in patterns))
    assert unknown == []


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from hf_tracking import lifecycle`` imports the module hf_tracking.lifecycle.
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update(name for name in submodules if module_exists(name))
            if not any(module_exists(name) for name in submodules):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "hf_tracking"}


def resolve(name: str, modules: set[str]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_the_import_graph_is_a_dag():
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {
        name: {
            target
            for imported in imports_of(path, top_level_only=True)
            if (target := resolve(imported, set(files))) and target != name
        }
        for name, path in files.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, f"import cycle: {' -> '.join([*trail, node])}"
        state[node] = 1
        for target in graph[node]:
            if not target.startswith(node + "."):
                visit(target, [*trail, node])
        state[node] = 2

    for name in graph:
        visit(name, [])


# The tracker's facade and the parts it composes: no part imports the facade or a part above it.
FACADE = (
    "hf_tracking.tracker",
    "hf_tracking.tracker_hooks",
    "hf_tracking.run_events",
    "hf_tracking.tracked_run",
)
LAYERS = {
    "hf_tracking.metrics": ("hf_tracking.metrics",),
    "hf_tracking.catalog": (),
    "hf_tracking.engine": (
        *FACADE,
        "hf_tracking.tracker_state",
        "hf_tracking.session",
        "hf_tracking.trainer",
    ),
    "hf_tracking.backends": (*FACADE, "hf_tracking.engine", "hf_tracking.trainer"),
    "hf_tracking.summary": (*FACADE, "hf_tracking.session", "hf_tracking.trainer"),
    "hf_tracking.lifecycle": (*FACADE, "hf_tracking.session", "hf_tracking.trainer"),
    "hf_tracking.session": (*FACADE, "hf_tracking.trainer"),
    "hf_tracking.tracker_state": (*FACADE, "hf_tracking.trainer"),
    "hf_tracking.tracked_run": (
        "hf_tracking.tracker",
        "hf_tracking.run_events",
        "hf_tracking.trainer",
    ),
    "hf_tracking.run_events": ("hf_tracking.tracker", "hf_tracking.trainer"),
    "hf_tracking.tracker_hooks": ("hf_tracking.tracker", "hf_tracking.trainer"),
    "hf_tracking.tracker": ("hf_tracking.trainer",),
    # Analysis is pure maths over summaries and rows: what reads files or draws uses it.
    "hf_tracking.analysis": (
        "hf_tracking.report",
        "hf_tracking.serve",
        "hf_tracking.cli",
        "hf_tracking.scaling",
        "hf_tracking.tracker",
        "hf_tracking.session",
        "hf_tracking.trainer",
        "hf_tracking.backends",
    ),
}


def test_imports_flow_one_way():
    """The bottom never imports the top, not even inside a function."""
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        for layer, forbidden in LAYERS.items():
            if name != layer and not name.startswith(layer + "."):
                continue
            imported = imports_of(path, top_level_only=False)
            if layer == "hf_tracking.metrics":
                assert (
                    not imported
                    - {"hf_tracking.metrics"}
                    - {i for i in imported if i.startswith("hf_tracking.metrics.")}
                ), name
                continue
            bad = (
                [i for i in imported if any(i == f or i.startswith(f"{f}.") for f in forbidden)]
                if forbidden
                else sorted(imported)
            )
            assert not bad, f"{name} imports {bad}"
