"""Reading the text files users hand to schedlab (scenarios, suites, GSwarm files), refusing bad ones.

Every reader of a user's YAML or JSON goes through :func:`read_text` and :func:`parse_yaml` /
:func:`parse_json`, so that each bad file gets one :class:`~schedlab.errors.ConfigError` (or the
``DataError`` the caller asks for) naming the file and the problem, and never a traceback, a
hang or a machine out of memory:

- a directory, a missing file, a file larger than :data:`MAX_FILE_BYTES`;
- a binary or non-UTF-8 file (a NUL byte, or bytes that do not decode);
- YAML whose aliases expand to more than :data:`MAX_YAML_NODES` values (a "billion laughs"
  file is a few hundred bytes), a recursive alias, nesting deeper than :data:`MAX_DEPTH`;
- a mapping that gives one key twice (YAML and JSON keep the last silently, so the first value
  a user wrote would be ignored without a word).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError

__all__ = ["MAX_FILE_BYTES", "MAX_YAML_NODES", "MAX_DEPTH", "read_text", "parse_yaml", "parse_json", "load_document"]

#: Largest file read (bytes). GSwarm's largest request files are a few MB.
MAX_FILE_BYTES = 256 * 2**20
#: Most values (scalars, lists, mappings) a YAML document may expand to, aliases counted each time used.
MAX_YAML_NODES = 1_000_000
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 200


def read_text(path: str | os.PathLike, *, what: str = "file", error: type[ConfigError] = ConfigError) -> str:
    """The UTF-8 text of a user's file.

    Args:
        path: The file.
        what: What the file is, for the messages ("scenario file").
        error: The exception class to raise.

    Raises:
        ConfigError: (or ``error``) Missing, a directory, unreadable, too large, binary or not UTF-8.
    """
    p = Path(path)
    source = str(p)
    if p.is_dir():
        raise error(f"is a directory, expected a {what}", source=source)
    if not p.exists():
        raise error(f"no such {what}", source=source)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(f"{size} bytes; a {what} may hold at most {MAX_FILE_BYTES} bytes", source=source)
        data = p.read_bytes()
    except OSError as e:
        raise error(f"cannot read ({e.strerror or e})", source=source) from None
    if b"\x00" in data:
        raise error(f"a binary file, expected a {what} (UTF-8 text)", source=source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"not UTF-8 text (byte {e.start}), expected a {what}", source=source) from None


def parse_yaml(text: str, *, source: str | None = None, error: type[ConfigError] = ConfigError) -> Any:
    """Parse one YAML document with a safe loader, refusing alias bombs and repeated keys.

    Raises:
        ConfigError: (or ``error``) Malformed YAML, a key given twice, a recursive alias, or a
            document that expands past :data:`MAX_YAML_NODES` values or :data:`MAX_DEPTH` levels.
    """
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader parses ~10x faster
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, source, error)
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = str(getattr(e, "problem", None) or e).replace("\n", " ")
        raise error(f"{where}malformed YAML ({problem})", source=source) from None
    except RecursionError:
        raise error(f"malformed YAML (nested more than {MAX_DEPTH} levels deep)", source=source) from None
    except ValueError as e:  # a value the constructor cannot build, e.g. an integer of 5000 digits
        if isinstance(e, ConfigError):
            raise
        raise error(f"malformed YAML ({e})", source=source) from None
    finally:
        loader.dispose()


def parse_json(
    text: str, *, source: str | None = None, error: type[ConfigError] = ConfigError, malformed: str = "malformed JSON"
) -> Any:
    """Parse a JSON document, refusing repeated keys, NaN and infinities.

    ``malformed`` is the words of the message for text that is not JSON (each reader keeps its own).

    Raises:
        ConfigError: (or ``error``) Malformed JSON, a key given twice, a bare NaN/Infinity or
            nesting deeper than Python can follow.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in items:
            if k in d:
                raise error(f"key {k!r} is given twice", source=source)
            d[k] = v
        return d

    def constant(name: str) -> float:
        raise error(f"{name} is not a JSON number; write null or a finite number", source=source)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as e:
        raise error(f"line {e.lineno}: {malformed} ({e.msg})", source=source) from None
    except RecursionError:
        raise error(f"{malformed} (nested too deeply)", source=source) from None
    except ValueError as e:  # an integer of thousands of digits
        if isinstance(e, ConfigError):
            raise
        raise error(f"{malformed} ({e})", source=source) from None


def load_document(path: str | os.PathLike, *, what: str = "file", error: type[ConfigError] = ConfigError) -> Any:
    """Read a YAML file, or a JSON one by its ``.json`` suffix, with every check of this module.

    Raises:
        ConfigError: (or ``error``) See :func:`read_text`, :func:`parse_yaml`, :func:`parse_json`.
    """
    p = Path(path)
    text = read_text(p, what=what, error=error)
    if p.suffix.lower() == ".json":
        return parse_json(text, source=str(p), error=error)
    return parse_yaml(text, source=str(p), error=error)


def _check_nodes(root: Any, source: str | None, error: type[ConfigError]) -> None:
    """Count the values ``root`` expands to (an alias each time it is used) and find repeated keys.

    A node reached again through an alias is counted again without being walked again: its
    size is remembered, so a billion-laughs file is refused after a few thousand steps.
    """
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise error(f"line {node.start_mark.line + 1}: a recursive YAML alias", source=source)
        if depth > MAX_DEPTH:
            raise error(f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep", source=source)
        if isinstance(node, ScalarNode):
            return 1
        open_.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            seen: set[str] = set()
            children = []
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in seen:
                        raise error(f"line {k.start_mark.line + 1}: key {k.value!r} is given twice", source=source)
                    seen.add(k.value)
                children += (k, v)
        else:
            children = []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_YAML_NODES:
                raise error(
                    f"the YAML expands to more than {MAX_YAML_NODES} values (through aliases?); "
                    "write the document out or make it smaller",
                    source=source,
                )
        open_.discard(key)
        sizes[key] = total
        return total

    size(root, 0)
