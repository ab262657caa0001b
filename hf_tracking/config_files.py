"""Reading a config file that may be hostile: every failure is a ConfigError naming the file.

Limits, so a bad file fails in milliseconds instead of hanging, recursing or filling memory:
only regular files (a FIFO or ``/dev/zero`` is refused before it is read), at most
``MAX_CONFIG_BYTES``, nesting at most ``MAX_DEPTH`` levels, at most ``MAX_ALIASES`` YAML aliases
(an alias bomb expands exponentially), and no key given twice in one mapping.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from pathlib import Path
from typing import Any

from hf_tracking.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 64


class _Refused(ValueError):
    """A document that breaks one of the limits."""


def read_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML or JSON file that holds a mapping; every failure is a ConfigError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"config file must end in .yaml, .yml or .json, got {str(path)!r}")
    text = read_text_capped(path)
    try:
        data = _parse_json(text) if suffix == ".json" else _parse_yaml(text)
    except _Refused as error:
        raise ConfigError(f"refused config file {str(path)!r}: {error}") from None
    except (ValueError, RecursionError) as error:
        raise ConfigError(f"malformed config file {str(path)!r}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r} must hold a mapping of field: value, "
            f"got {type(data).__name__}"
        )
    return data


def parse_yaml_value(text: str, what: str) -> Any:
    """One YAML value (a ``--set`` override) under the same limits as a file."""
    try:
        return _parse_yaml(text)
    except (ValueError, RecursionError) as error:
        raise ConfigError(f"{what}: cannot read the value {text[:80]!r}: {error}") from None


def read_text_capped(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the file type is checked next.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ConfigError(f"cannot read config file {str(path)!r}: {error}") from None
    with os.fdopen(descriptor, "rb") as stream:
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise ConfigError(f"config file {str(path)!r} is not a regular file")
            data = stream.read(limit + 1)
        except OSError as error:
            raise ConfigError(f"cannot read config file {str(path)!r}: {error}") from None
    if len(data) > limit:
        raise ConfigError(f"config file {str(path)!r} is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"cannot read config file {str(path)!r}: {error}") from None


def _parse_json(text: str) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key, value in pairs:
            if key in mapping:
                raise _Refused(f"key {key!r} is given twice")
            mapping[key] = value
        return mapping

    data = json.loads(text, object_pairs_hook=unique)
    _check_depth(data, 0)
    return data


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        _check_depth(child, depth + 1)


def parse_yaml_limited(text: str) -> Any:
    """YAML text read within the limits on depth and aliases, a key given twice keeping its last
    value (as ``yaml.safe_load``): for files other programs wrote. ``ValueError`` when refused."""
    return _parse_yaml(text, unique_keys=False)


def _parse_yaml(text: str, unique_keys: bool = True) -> Any:
    import yaml

    try:
        loader = _strict_loader_class(unique_keys)(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None


@functools.cache
def _strict_loader_class(unique_keys: bool = True) -> type:
    """A SafeLoader that enforces the limits while composing, before anything is built."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.depth = 0
            self.aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise _Refused(f"more than {MAX_ALIASES} aliases")
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if unique_keys and isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:  # an unhashable key: construct_mapping says so
                        continue
                    if duplicate and key != "<<":
                        raise _Refused(
                            f"key {key!r} is given twice (line {key_node.start_mark.line + 1})"
                        )
            return super().construct_mapping(node, deep=deep)

    return StrictLoader
