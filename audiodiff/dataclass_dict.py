"""Checked construction of config dataclasses from JSON dictionaries."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def checked_fields(cls: type[T], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` unchanged if it names only fields of ``cls`` and all required ones; else ``ValueError``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {unknown}; known fields: {sorted(fields)}")
    missing = sorted(name for name, f in fields.items() if name not in data
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if missing:
        raise ValueError(f"{cls.__name__} is missing required fields {missing}")
    return data
