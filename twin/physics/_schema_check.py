"""A small, fast JSON Schema checker for the subset ``schemas/{network,task}.schema.json`` use.

``jsonschema`` takes ~25 ms for a 3 x 3 lattice's task and grows with every array element
through several Python frames; a 100,000-edge network took seconds. This checker walks the
document once, with tight loops over arrays of numbers, and returns the first problem as
(JSON path parts, message). Keywords outside :data:`KEYWORDS` are refused when a schema is first
used (a test also checks agreement with ``jsonschema`` on fuzzed documents).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["KEYWORDS", "Checker", "shown", "types_text"]

#: Validation keywords understood here; annotations ($id, description, ...) are ignored.
KEYWORDS = frozenset(
    {
        "$ref", "type", "const", "enum", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minItems", "maxItems", "items", "minLength", "maxLength",
        "required", "properties", "additionalProperties", "minProperties", "maxProperties",
        "propertyNames", "oneOf",
    }
)  # fmt: skip
#: Keywords that do not validate (``x-omit-default``: read by :mod:`twin.sweeps.params`).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "title", "description", "x-expected", "default", "x-omit-default"}
)

Problem = tuple[list[Any], str]

_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


#: Python types of the other JSON types; in-process callers may pass any Mapping or a tuple.
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": Mapping,
    "array": (list, tuple),
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _PY_TYPES[kind])


def types_text(kinds: Any) -> str:
    """``["number", "null"]`` -> ``a number or null``."""
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return " or ".join(_TYPE_NAMES.get(k, str(k)) for k in kinds)


def shown(value: Any) -> str:
    """A short description of a value (never a long quote)."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return f"an array of {len(value)} items"
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


class Checker:
    """First problem of documents against one schema (with ``$ref`` into ``registry``)."""

    def __init__(self, schema_id: str, registry: dict[str, Any]) -> None:
        self.registry = registry
        self.root_id = schema_id
        for spec in registry.values():
            _refuse_unknown(spec)

    def first_problem(self, doc: Any) -> Problem | None:
        root = self.registry[self.root_id]
        return self._check(root, root, doc, [])

    # -- resolution ---------------------------------------------------------------------------

    def _resolve(self, root: dict[str, Any], ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if ref.startswith("#/"):
            node: Any = root
            for part in ref[2:].split("/"):
                node = node[part]
            return root, node
        target = self.registry[ref.removeprefix("../")]  # "../twin.network/1" from twin.task/1
        return target, target

    # -- checking -----------------------------------------------------------------------------

    def _check(
        self, root: dict[str, Any], schema: dict[str, Any], value: Any, path: list[Any]
    ) -> Problem | None:
        def bad(form: str) -> Problem:
            custom = schema.get("x-expected")
            return path, f"expected {custom or form}, got {shown(value)}"

        if "$ref" in schema:
            ref_root, target = self._resolve(root, schema["$ref"])
            problem = self._check(ref_root, target, value, path)
            if problem:
                return problem
        if "type" in schema:
            kinds = schema["type"]
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if not any(_is_type(value, k) for k in kinds):
                return bad(types_text(kinds))
        if "const" in schema and value != schema["const"]:
            return bad(json.dumps(schema["const"]))
        if "enum" in schema and value not in schema["enum"]:
            return bad(" or ".join(json.dumps(v) for v in schema["enum"]))
        if _is_type(value, "number"):
            form = _check_number(schema, value)
            if form and schema.get("type") == "integer":
                form = form.replace("a number", "an integer")
            if form:
                return bad(form)
        if isinstance(value, str):
            if len(value) < schema.get("minLength", 0):
                return bad(f"a string of at least {schema['minLength']} character(s)")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                return bad(f"a string of at most {schema['maxLength']} characters")
        if isinstance(value, (list, tuple)):
            return self._check_array(root, schema, value, path, bad)
        if isinstance(value, Mapping):
            return self._check_object(root, schema, value, path, bad)
        if "oneOf" in schema:
            return self._check_one_of(root, schema, value, path)
        return None

    def _check_array(
        self,
        root: dict[str, Any],
        schema: dict[str, Any],
        value: list[Any] | tuple[Any, ...],
        path: list[Any],
        bad: Callable[[str], Problem],
    ) -> Problem | None:
        if len(value) < schema.get("minItems", 0):
            return bad(f"at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return bad(f"at most {schema['maxItems']} items")
        items = schema.get("items")
        if items is not None:
            simple = _simple_number_schema(root, items)
            for i, item in enumerate(value):
                if (
                    simple is not None
                    and _is_type(item, simple[0])
                    and not _check_number(simple[1], item)
                ):
                    continue  # fast path: a number inside its range
                problem = self._check(root, items, item, [*path, i])
                if problem:
                    return problem
        return self._check_one_of(root, schema, value, path) if "oneOf" in schema else None

    def _check_object(
        self,
        root: dict[str, Any],
        schema: dict[str, Any],
        value: Mapping[str, Any],
        path: list[Any],
        bad: Callable[[str], Problem],
    ) -> Problem | None:
        for key in schema.get("required", ()):
            if key not in value:
                return path, f"missing field {key!r}"
        if len(value) < schema.get("minProperties", 0):
            return bad(f"at least {schema['minProperties']} field(s)")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            return bad(f"at most {schema['maxProperties']} fields")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if "propertyNames" in schema:
                problem = self._check(root, schema["propertyNames"], key, [*path, key])
                if problem:
                    return [*path, key], "expected a field name of 1 to 64 characters"
            if key in props:
                problem = self._check(root, props[key], item, [*path, key])
            elif extra is False:
                return path, f"unknown field {key!r} (not in the schema)"
            elif isinstance(extra, dict):
                problem = self._check(root, extra, item, [*path, key])
            else:
                problem = None
            if problem:
                return problem
        return self._check_one_of(root, schema, value, path) if "oneOf" in schema else None

    def _check_one_of(
        self, root: dict[str, Any], schema: dict[str, Any], value: Any, path: list[Any]
    ) -> Problem | None:
        branches = schema["oneOf"]
        problems = [self._check(root, b, value, path) for b in branches]
        passed = sum(p is None for p in problems)
        if passed == 1:
            return None
        custom = schema.get("x-expected")
        if passed > 1:
            return path, f"expected {custom or 'exactly one form'}, got {shown(value)}"
        # The branch whose type fits says what is wrong inside; else name the forms.
        for branch, problem in zip(branches, problems, strict=True):
            if "type" in branch and _is_type(value, branch["type"]) and problem:
                return problem
        forms = custom or types_text([b.get("type", "?") for b in branches])
        return path, f"expected {forms}, got {shown(value)}"


def _check_number(schema: dict[str, Any], value: float) -> str | None:
    if "minimum" in schema and value < schema["minimum"]:
        return f"a number >= {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"a number <= {schema['maximum']}"
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return f"a number > {schema['exclusiveMinimum']}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return f"a number < {schema['exclusiveMaximum']}"
    return None


def _simple_number_schema(
    root: dict[str, Any], schema: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """(type, schema) when ``schema`` only says "a number (integer) in a range" (local $ref)."""
    if set(schema) == {"$ref"} and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    kind = schema.get("type")
    allowed = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "description"}
    if kind in ("number", "integer") and set(schema) <= allowed:
        return kind, schema
    return None


def _refuse_unknown(schema: Any) -> None:
    """Raise ``ValueError`` if ``schema`` uses a validation keyword this checker lacks."""
    if isinstance(schema, list):
        for item in schema:
            _refuse_unknown(item)
        return
    if not isinstance(schema, dict):
        return
    unknown = set(schema) - KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ValueError(f"schema keyword(s) {sorted(unknown)} not supported by _schema_check")
    for key, sub in schema.items():
        if key in ("properties", "$defs"):
            for item in sub.values():
                _refuse_unknown(item)
        elif key in ("items", "additionalProperties", "propertyNames", "oneOf"):
            _refuse_unknown(sub)
