"""Shapes of the standard facets Headwater reads, checked at ingest.

Facets are open-ended, and producers add their own; Headwater stores every facet as sent.
The standard facets it *interprets* (schemas, column lineage, versions, SQL, ownership,
quality assertions, ...) must have the shape the OpenLineage spec gives them, as far as
Headwater reads them: an event whose ``sql.query`` is a number, or whose ``columnLineage``
fields are a list, is refused with a 422 naming the path, instead of being accepted and then
failing to project. Only what is read is checked, and keys stay optional: the spec's own
leniency (and that of its producers) is kept.

The checks are declared as objects (:func:`obj`, :func:`array`, :func:`mapping`, :data:`STR`, ...);
each standard facet's :meth:`Check.ok`, asked of every event, is then generated from them as one
function (:func:`compile_ok`), and the declared walk only runs to name what an event got wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FacetShapeError(ValueError):
    """A standard facet with a value of the wrong type (``path``: where, ``reason``: why)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Check:
    """The expected shape of a value.

    :meth:`ok` answers whether a value has it without building a single path (the common case
    at ingest); :meth:`check` walks the value again, with paths, only to name what is wrong.
    """

    def ok(self, value: Any) -> bool:
        """Whether ``value`` has this shape (null always does)."""
        raise NotImplementedError

    def explain(self, value: Any, path: str) -> None:
        """Raise :class:`FacetShapeError` for the first part of ``value`` not of this shape."""
        raise NotImplementedError

    def check(self, value: Any, path: str) -> None:
        """Pass a value of this shape; name the first wrong part of any other.

        Raises:
            FacetShapeError: naming the path of the first value of the wrong type.
        """
        if not self.ok(value):
            self.explain(value, path)

    def __call__(self, value: Any, path: str) -> None:
        self.check(value, path)


class _Type(Check):
    def __init__(self, expected: type | tuple[type, ...], name: str) -> None:
        self.expected = expected
        self.name = name

    def ok(self, value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, bool):  # a bool is an int to isinstance, not to JSON
            return self.expected is bool
        return isinstance(value, self.expected)

    def explain(self, value: Any, path: str) -> None:
        if not self.ok(value):
            raise FacetShapeError(path, f"must be {self.name}")


class _Str(_Type):
    """A string: the most common check, so the shortest (a bool is never a str)."""

    def ok(self, value: Any) -> bool:
        return value is None or isinstance(value, str)


STR: Check = _Str(str, "a string")
BOOL: Check = _Type(bool, "a boolean")
SCALAR: Check = _Type((str, int, float), "a string or a number")

# The ``ok`` walks below are the ingest hot path (every event's standard facets, about half the
# time of validating one): plain loops over bound methods, no generator per level, and a key's
# value looked up once. A null passes every check, so it is skipped without a call.


class _Object(Check):
    def __init__(self, fields: dict[str, Check]) -> None:
        self.fields = tuple(fields.items())

    @property
    def fields(self) -> tuple[tuple[str, Check], ...]:
        return self._fields

    @fields.setter
    def fields(self, fields: tuple[tuple[str, Check], ...]) -> None:
        self._fields = fields
        self._oks = tuple((key, sub.ok) for key, sub in fields)

    def ok(self, value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, dict):
            return False
        get = value.get
        for key, sub_ok in self._oks:
            sub = get(key)
            if sub is not None and not sub_ok(sub):
                return False
        return True

    def explain(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise FacetShapeError(path, "must be an object")
        for key, sub in self.fields:
            if key in value:
                sub.check(value[key], f"{path}.{key}")


class _Array(Check):
    def __init__(self, item: Check) -> None:
        self.item = item

    def ok(self, value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, list):
            return False
        item_ok = self.item.ok
        for element in value:  # noqa: SIM110 (a loop: no generator frame per array)
            if element is not None and not item_ok(element):
                return False
        return True

    def explain(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            raise FacetShapeError(path, "must be an array")
        for i, element in enumerate(value):
            self.item.check(element, f"{path}[{i}]")


class _Mapping(Check):
    def __init__(self, item: Check) -> None:
        self.item = item

    def ok(self, value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, dict):
            return False
        item_ok = self.item.ok
        for element in value.values():  # noqa: SIM110 (a loop: no generator frame per map)
            if element is not None and not item_ok(element):
                return False
        return True

    def explain(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise FacetShapeError(path, "must be an object")
        for key, element in value.items():
            self.item.check(element, f"{path}.{key}")


def obj(**fields: Check) -> Check:
    """An object (or null) whose listed keys, when present, pass their checks."""
    return _Object(fields)


def array(item: Check) -> Check:
    """An array (or null) whose items pass ``item``."""
    return _Array(item)


def mapping(item: Check) -> Check:
    """An object (or null) used as a map: every value passes ``item``."""
    return _Mapping(item)


def _schema_field() -> Check:
    """A schema field: nested fields are schema fields again (a struct's members)."""
    field = _Object({})
    field.fields = (("name", STR), ("type", STR), ("description", STR), ("fields", array(field)))
    return field


_SCHEMA_FIELD = _schema_field()
_INPUT_FIELD = obj(
    namespace=STR,
    name=STR,
    field=STR,
    transformations=array(obj(type=STR, subtype=STR, description=STR, masking=BOOL)),
)
_DOCUMENTATION = obj(description=STR)
_OWNERSHIP = obj(owners=array(obj(name=STR, type=STR)))

DATASET_FACETS: Mapping[str, Check] = {
    "schema": obj(fields=array(_SCHEMA_FIELD)),
    "columnLineage": obj(
        fields=mapping(
            obj(
                inputFields=array(_INPUT_FIELD),
                transformationType=STR,
                transformationDescription=STR,
            )
        ),
        dataset=array(_INPUT_FIELD),
    ),
    "version": obj(datasetVersion=SCALAR),
    "lifecycleStateChange": obj(lifecycleStateChange=STR),
    "dataSource": obj(name=STR, uri=STR),
    "datasetType": obj(datasetType=STR),
    "documentation": _DOCUMENTATION,
    "ownership": _OWNERSHIP,
    "dataQualityAssertions": obj(
        assertions=array(obj(assertion=SCALAR, success=BOOL, column=STR, severity=STR))
    ),
}
JOB_FACETS: Mapping[str, Check] = {
    "sql": obj(query=STR),
    "documentation": _DOCUMENTATION,
    "sourceCodeLocation": obj(url=STR, type=STR),
    "jobType": obj(processingType=STR, integration=STR, jobType=STR),
    "ownership": _OWNERSHIP,
}
RUN_FACETS: Mapping[str, Check] = {
    "nominalTime": obj(nominalStartTime=STR, nominalEndTime=STR),
    "parent": obj(run=obj(runId=STR), job=obj(namespace=STR, name=STR)),
    "errorMessage": obj(message=STR, programmingLanguage=STR, stackTrace=STR),
}


class _Compiler:
    """Writes a check's ``ok`` as one Python function: every nested check inlined as ``if``
    statements and loops (the interpreted walk makes a call per value, about half its time),
    a check met again inside itself (a schema field's ``fields``) called as a function of its own.

    The source is built only from the checks' own keys (written with ``repr``) and names made
    here: no input reaches it.
    """

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.names: dict[int, str] = {}
        self.namespace: dict[str, Any] = {"isinstance": isinstance}
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def function(self, check: Check) -> str:
        name = self.names.get(id(check))
        if name is not None:
            return name
        name = self.names[id(check)] = self.fresh("_ok")
        body: list[str] = []
        self.emit_body(check, "v", body, 1, {id(check)})
        self.sources.append(f"def {name}(v):\n" + "\n".join(body) + "\n    return True\n")
        return name

    def emit(self, check: Check, var: str, out: list[str], depth: int, stack: set[int]) -> None:
        """Statements that ``return False`` unless ``var`` has the shape (null always does)."""
        pad = "    " * depth
        if isinstance(check, _Str):
            out.append(f"{pad}if {var} is not None and not isinstance({var}, str): return False")
            return
        if isinstance(check, _Type):
            expected = self.fresh("_t")
            self.namespace[expected] = check.expected
            if check.expected is bool:
                test = f"not isinstance({var}, {expected})"
            else:  # a bool is an int to isinstance, not to JSON
                test = f"isinstance({var}, bool) or not isinstance({var}, {expected})"
            self.namespace["bool"] = bool
            out.append(f"{pad}if {var} is not None and ({test}): return False")
            return
        if id(check) in stack or not isinstance(check, _Object | _Array | _Mapping):
            out.append(
                f"{pad}if {var} is not None and not {self.function(check)}({var}): return False"
            )
            return
        self.emit_body(check, var, out, depth, stack | {id(check)})

    def emit_body(
        self, check: Check, var: str, out: list[str], depth: int, stack: set[int]
    ) -> None:
        """:meth:`emit` for an object, array or map."""
        pad = "    " * depth
        out.append(f"{pad}if {var} is not None:")
        if isinstance(check, _Object):
            self.namespace["dict"] = dict
            out.append(f"{pad}    if not isinstance({var}, dict): return False")
            for key, sub in check.fields:
                value = self.fresh("x")
                out.append(f"{pad}    {value} = {var}.get({key!r})")
                self.emit(sub, value, out, depth + 1, stack)
            return
        element = self.fresh("e")
        if isinstance(check, _Array):
            self.namespace["list"] = list
            out.append(f"{pad}    if not isinstance({var}, list): return False")
            out.append(f"{pad}    for {element} in {var}:")
        else:
            self.namespace["dict"] = dict
            out.append(f"{pad}    if not isinstance({var}, dict): return False")
            out.append(f"{pad}    for {element} in {var}.values():")
        assert isinstance(check, _Array | _Mapping)
        self.emit(check.item, element, out, depth + 2, stack)


def compile_ok(check: Check) -> Any:
    """``check.ok`` as one generated function (see :class:`_Compiler`): the same answers."""
    compiler = _Compiler()
    name = compiler.function(check)
    exec("\n".join(compiler.sources), compiler.namespace)  # the source is built from the checks
    return compiler.namespace[name]


for _known in (DATASET_FACETS, JOB_FACETS, RUN_FACETS):
    for _check in _known.values():
        if "ok" not in vars(_check):  # facets shared by several kinds are compiled once
            _check.ok = compile_ok(_check)  # type: ignore[method-assign]
