"""The documentation's generated pages, written from the code at every ``mkdocs build``.

    reference/metrics.md   the metric catalog, from hf_tracking.catalog
    reference/config.md    every ExperimentConfig field: type, default and what it does
    reference/cli.md       the help of ``hf-tracking`` and ``scripts/train.py``

``mkdocs.yml`` names this file as a hook: ``on_files`` adds the pages to the build (they are
never written into ``docs/``, so they cannot drift from the code). ``python
scripts/docs_pages.py DIR`` writes them into DIR to read them without mkdocs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HELP_COLUMNS = "96"  # argparse wraps help to $COLUMNS: a fixed width gives the same page anywhere


def cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def metrics_page() -> str:
    from hf_tracking import catalog

    lines = [
        "# Metric catalog",
        "",
        "Generated from `hf_tracking/catalog.py`, the one source of names: the engine builds its",
        "rows from these constants and every backend declares its axes from them. Names with",
        "`<...>` or `{i}` are families (`val/<name>/loss`, `memory/gpu_{i}_allocated_gb`).",
        "",
        "Every row carries the three axes, "
        + ", ".join(f"`{key}`" for key in catalog.AXES)
        + ", so any metric can be plotted against any of them. The time ledger's parts, "
        + ", ".join(f"`{key}`" for key in catalog.LEDGER_KEYS)
        + ", add up to the wallclock.",
        "",
        "| name | meaning |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {cell(meaning)} |" for name, meaning in catalog.CATALOG.items()]
    lines += [
        "",
        "Kinds of row (the `event` field of `metrics.jsonl`): "
        + ", ".join(f"`{kind}`" for kind in catalog.RECORD_KINDS)
        + ".",
        "",
        "Groups plotted against `time/gradient_steps` by default (W&B's `step_metric`): "
        + ", ".join(f"`{name}/*`" for name in catalog.PLOTTED_GROUPS)
        + ".",
        "",
        "How FLOPs and MFU are computed, and what the summary holds: [What a run leaves]"
        "(../guides/runs.md).",
        "",
    ]
    return "\n".join(lines)


def type_name(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    # "int | None" would split a Markdown table cell
    return text.replace("typing.", "").replace("NoneType", "None").replace(" | ", " or ")


def default_text(field: dataclasses.Field) -> str:
    """The default as YAML writes it (``true``, ``null``, ``[local, wandb]``)."""
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        value = field.default
    if isinstance(value, str) and value == "":
        return '`""`'
    text = yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()
    return f"`{text}`"


def config_page() -> str:
    from hf_tracking.config import ExperimentConfig
    from hf_tracking.config_fields import FIELD_DOCS

    fields = dataclasses.fields(ExperimentConfig)
    missing = [field.name for field in fields if field.name not in FIELD_DOCS]
    extra = sorted(set(FIELD_DOCS) - {field.name for field in fields})
    if missing or extra:
        raise ValueError(f"config_fields.FIELD_DOCS: undocumented {missing}, unknown {extra}")
    hints = typing.get_type_hints(ExperimentConfig)
    lines = [
        "# Config reference",
        "",
        "Generated from the fields of `hf_tracking.ExperimentConfig` (`hf_tracking/config.py`)",
        "and their descriptions in `hf_tracking/config_fields.py`. Every field has a default, so",
        "`ExperimentConfig(track_memory=False)` is a whole config. In YAML or JSON:",
        '`ExperimentConfig.load("config.yaml")` and `.save(path)`. A wrong key, type or value',
        "raises `hf_tracking.ConfigError` naming the field, the value and the file:",
        "`unknown config field 'learning_rat'; did you mean 'learning_rate'? (in config.yaml)`.",
        "",
        "| field | type | default | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for field in fields:
        lines.append(
            f"| `{field.name}` | `{type_name(hints[field.name])}` | {default_text(field)} "
            f"| {cell(FIELD_DOCS[field.name])} |"
        )
    defaults = yaml.safe_dump(ExperimentConfig().to_dict(), sort_keys=False, width=90)
    lines += [
        "",
        'Every field at its default, as `ExperimentConfig().save("config.yaml")` writes it',
        "(`experiment_name` is filled in when a run starts):",
        "",
        "```yaml",
        defaults.rstrip(),
        "```",
        "",
        'How the config is built for `report_to="hf_tracking"` and for accelerate: '
        "[the Trainer](../guides/trainer.md), [accelerate](../guides/accelerate.md). The "
        "`training:` and `data:` sections of a recipe: [Recipes](../guides/recipes.md).",
        "",
    ]
    return "\n".join(lines)


def load_script(name: str) -> Any:
    """A script of ``scripts/`` as a module (not run: its ``main`` is guarded)."""
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def help_block(parser: argparse.ArgumentParser) -> list[str]:
    return ["```text", parser.format_help().rstrip(), "```", ""]


def cli_page() -> str:
    from hf_tracking import cli

    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    lines = [
        "# Command-line reference",
        "",
        "Generated from the argument parsers (`hf_tracking/cli.py`, `scripts/train.py`): this is",
        "what `--help` prints.",
        "",
        "## hf-tracking",
        "",
        *help_block(parser),
    ]
    for name, subparser in commands.choices.items():
        lines += [f"### hf-tracking {name}", "", *help_block(subparser)]
    lines += [
        "## scripts/train.py",
        "",
        "Train a GPT-2 from a recipe with the Trainer, tracked by hf_tracking "
        "([Recipes](../guides/recipes.md)).",
        "",
        *help_block(load_script("train").build_parser()),
    ]
    return "\n".join(lines)


PAGES: dict[str, Callable[[], str]] = {
    "reference/metrics.md": metrics_page,
    "reference/config.md": config_page,
    "reference/cli.md": cli_page,
}


def generated() -> dict[str, str]:
    """Every generated page by its path under ``docs/``."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return {path: make() for path, make in PAGES.items()}
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


# Sphinx roles in docstrings (":class:`~hf_tracking.X`"), as mkdocstrings renders them.
SPHINX_ROLE = re.compile(r":(?:class|meth|func|mod|data|attr|exc):<code>(~?)([^<]*)</code>")


def plain_role(match: re.Match[str]) -> str:
    name = match.group(2).rsplit(".", 1)[-1] if match.group(1) else match.group(2)
    return f"<code>{name}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """mkdocs hook: docstrings' Sphinx roles shown as code, as Sphinx shows them."""
    return SPHINX_ROLE.sub(plain_role, html)


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated pages to the build."""
    from mkdocs.structure.files import File

    for path, text in generated().items():
        files.append(File.generated(config, path, content=text))
    return files


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "site-generated")
    for path, text in generated().items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)
        print(out / path)
