"""Check an emulator answer against the SDK's own ``_restclient`` models (TypeSpec ``model_base`` classes).

``unknown_fields(Model, json)`` walks the JSON with the model's rest fields: a key the model does not know
(a typo such as ``mlflowTrackingUri``), a discriminator value without a subclass (``jobType: "Comand"``), or
a value of the wrong kind (an object where the model wants a list) is reported with its path. Deserialising
alone would not catch these: the models keep unknown keys silently and fall back to the base class.
"""

from __future__ import annotations

import datetime
import importlib
import types
import typing
from typing import Any, ForwardRef

_PRIMITIVES = (str, int, float, bool)


def unknown_fields(model: type, value: Any, path: str = "$") -> list[str]:
    """Problems found walking ``value`` (parsed JSON) as an instance of ``model``; empty when it fits."""
    problems: list[str] = []
    _walk(model, value, path, problems)
    return problems


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and getattr(tp, "_is_model", False)


def _fields(model: type) -> dict[str, tuple[str, Any]]:
    """rest name → (attribute, annotation) over the class and its bases."""
    model.__new__(model)  # computes _attr_to_rest_field once per class
    annotations: dict[str, Any] = {}
    for klass in reversed(model.__mro__):
        annotations.update(getattr(klass, "__annotations__", {}))
    return {rf._rest_name: (attr, annotations.get(attr)) for attr, rf in model._attr_to_rest_field.items()}  # type: ignore[attr-defined]


def _resolve(tp: Any, owner: type) -> Any:
    """A ForwardRef such as ``'_models.User'`` → the class in the owner's models package."""
    if isinstance(tp, ForwardRef):
        tp = tp.__forward_arg__
    if isinstance(tp, str):
        package = importlib.import_module(owner.__module__.rsplit(".", 1)[0])
        name = tp.split(".")[-1]
        return getattr(package, name, Any)
    return tp


def _discriminated(model: type, value: dict[str, Any], path: str, problems: list[str]) -> type:
    mapping = getattr(model, "__mapping__", None)
    if not mapping:
        return model
    for klass in model.__mro__:
        for rf in vars(klass).values():
            if getattr(rf, "_is_discriminator", False):
                kind = value.get(rf._rest_name)
                if kind is None:
                    return model
                if kind not in mapping:
                    problems.append(f"{path}.{rf._rest_name}: {kind!r} is none of {sorted(mapping)}")
                    return model
                sub = mapping[kind]
                return _discriminated(sub, value, path, problems) if sub is not model else sub
    return model


def _walk(tp: Any, value: Any, path: str, problems: list[str], owner: type | None = None) -> None:
    if owner is not None:
        tp = _resolve(tp, owner)
    if value is None or tp is Any or tp is None:
        return
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        first: list[str] | None = None
        for option in (a for a in args if a is not type(None)):
            trial: list[str] = []
            _walk(option, value, path, trial, owner)
            if not trial:
                return  # one option fits
            first = first if first is not None else trial
        problems.extend(first or [])
        return
    if origin is list:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _walk(args[0] if args else Any, item, f"{path}[{index}]", problems, owner)
        return
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        for key, item in value.items():
            _walk(args[1] if len(args) > 1 else Any, item, f"{path}.{key}", problems, owner)
        return
    if _is_model(tp):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a {tp.__name__} object, got {type(value).__name__}")
            return
        model = _discriminated(tp, value, path, problems)
        fields = _fields(model)
        for key, item in value.items():
            if key not in fields:
                problems.append(f"{path}.{key}: not a field of {model.__name__}")
                continue
            _walk(fields[key][1], item, f"{path}.{key}", problems, model)
        return
    if tp in (datetime.datetime, datetime.timedelta, datetime.date) and not isinstance(value, str):
        problems.append(f"{path}: expected a date/time string, got {type(value).__name__}")
        return
    if tp in _PRIMITIVES:
        if tp is str and not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {type(value).__name__}")
        elif tp in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{path}: expected a number, got {type(value).__name__}")
        elif tp is bool and not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {type(value).__name__}")
