"""The documentation's generated pages, as ``mkdocs build`` makes them (scripts/docs_pages.py)."""

from __future__ import annotations

import importlib.util
import re

from tests.support.snippets import ROOT


def generated_pages() -> dict[str, str]:
    """Every generated page by its path under ``docs/``."""
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "scripts" / "docs_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generated()


def table_names(page: str) -> list[str]:
    """The names in the first column of a page's tables (`` `name` ``)."""
    return re.findall(r"^\| `([^`]+)` \|", page, re.MULTILINE)
