"""Resolve a run's configuration into plain, YAML-safe data.

A config may be a mapping, an `argparse.Namespace`, a dataclass, or a path to a YAML, JSON or Python file;
`--key=value` arguments (nanoGPT's convention, dotted keys for nested values) merge on top. Files are
parsed, never executed: YAML with `safe_load`, Python with `ast` (see `pyconfig`).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ..errors import ConfigError
from ..literals import parse_value

CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".py")


@dataclass
class ResolvedConfig:
    """The plain config dict, the file it came from (if any) and notes on anything not taken."""

    values: dict[str, Any]
    source: Path | None = None
    notes: list[str] = field(default_factory=list)


def resolve(config: Any = None, argv: Iterable[str] | None = None) -> ResolvedConfig:
    """Turn `config` plus command-line `argv` into a ResolvedConfig; raise ConfigError with the key at fault."""
    file_arg, overrides = split_argv(argv or ())
    source: Path | None = None
    notes: list[str] = []
    if file_arg is not None:
        config = file_arg
    if isinstance(config, (str, PurePath)):
        source = Path(config)
        values, notes = read_config_file(source)
    else:
        values = _object_to_dict(config)
    values = to_plain(values)
    apply_overrides(values, overrides)
    return ResolvedConfig(values, source, notes)


def read_config_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Read a YAML, JSON or Python config file into a dict, plus notes on lines a Python file had skipped."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            notes: list[str] = []
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            notes = []
        elif suffix == ".py":
            from .pyconfig import parse_python_config

            data, notes = parse_python_config(path)
        else:
            raise ConfigError(f"unknown config file type {suffix!r} ({path}); use .yaml, .yml, .json or .py")
    except ConfigError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except SyntaxError as exc:
        raise ConfigError(f"config file {path} is not valid Python (line {exc.lineno}): {exc.msg}") from exc
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError: one clear line, no traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"config file {path} cannot be parsed: {first}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top, not {type(data).__name__}")
    return data, notes


def _object_to_dict(config: Any) -> dict[str, Any]:
    """A dict from a mapping, Namespace or dataclass instance (None gives an empty config)."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if isinstance(config, argparse.Namespace):
        return dict(vars(config))
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    raise ConfigError(
        f"config must be a dict, argparse.Namespace, dataclass or a path to a YAML/JSON/Python file, "
        f"not {type(config).__name__}"
    )


def to_plain(value: Any, key: str = "") -> Any:
    """Convert to plain YAML types (dict, list, str, int, float, bool, None); ConfigError names a bad key."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)):
                raise ConfigError(f"config key {_join(key, repr(k))}: keys must be strings")
            out[str(k)] = to_plain(v, _join(key, str(k)))
        return out
    if isinstance(value, (list, tuple)):
        return [to_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return [to_plain(v, f"{key}[{i}]") for i, v in enumerate(sorted(value, key=repr))]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_plain(value.value, key)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_plain(_object_to_dict(value), key)
    if isinstance(value, argparse.Namespace):
        return to_plain(vars(value), key)
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item) and getattr(value, "ndim", getattr(value, "dim", lambda: 0)) in (0, None):
        try:
            return to_plain(item(), key)
        except (TypeError, ValueError, RuntimeError):
            pass
    raise ConfigError(
        f"config key {key or '<root>'!r} has a value of type {type(value).__name__} that cannot be stored; "
        "use a number, string, bool, None, list or dict"
    )


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def split_argv(argv: Iterable[str]) -> tuple[str | None, list[tuple[str, str]]]:
    """Split a training script's arguments into an optional config file and `--key=value` overrides."""
    file_arg: str | None = None
    overrides: list[tuple[str, str]] = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, raw = arg[2:].split("=", 1)
            if not key:
                raise ConfigError(f"override {arg!r} has no key; write --key=value")
            overrides.append((key, raw))
        elif not arg.startswith("-") and arg.lower().endswith(CONFIG_SUFFIXES):
            if file_arg is not None:
                raise ConfigError(f"two config files given: {file_arg} and {arg}")
            file_arg = arg
        else:
            raise ConfigError(f"cannot use argument {arg!r}: give a config file and --key=value overrides")
    return file_arg, overrides


def apply_overrides(values: dict[str, Any], overrides: list[tuple[str, str]]) -> None:
    """Set each dotted key in place; a key missing from a non-empty config is a typo and an error."""
    for key, raw in overrides:
        parts = key.split(".")
        node = values
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None and part not in node:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override --{key}: {'.'.join(parts[: i + 1])} is not a mapping")
            node = child
        leaf = parts[-1]
        if values and leaf not in node:
            known = ", ".join(sorted(node)) or "none"
            raise ConfigError(f"override --{key}: no such config key (known here: {known})")
        node[leaf] = _coerce(key, node.get(leaf), parse_value(raw), raw)


def _coerce(key: str, old: Any, new: Any, raw: str) -> Any:
    """Keep an override's type in line with the value it replaces (nanoGPT asserts; we convert or explain)."""
    if old is None or new is None or type(old) is type(new):
        return to_plain(new, key)
    if isinstance(old, str):
        return raw
    if isinstance(old, bool) or isinstance(new, bool):
        raise ConfigError(f"override --{key}={raw}: expected {type(old).__name__}, got {type(new).__name__}")
    if isinstance(old, float) and isinstance(new, int):
        return float(new)
    if isinstance(old, int) and isinstance(new, float) and math.isfinite(new) and new.is_integer():
        return int(new)
    if isinstance(old, list) and isinstance(new, tuple):
        return to_plain(list(new), key)
    raise ConfigError(f"override --{key}={raw}: expected {type(old).__name__}, got {type(new).__name__}")
