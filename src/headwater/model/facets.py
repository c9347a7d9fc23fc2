"""Shapes of the standard facets Headwater reads, checked at ingest.

Facets are open-ended, and producers add their own; Headwater stores every facet as sent.
The standard facets it *interprets* (schemas, column lineage, versions, SQL, ownership,
quality assertions, ...) must have the shape the OpenLineage spec gives them, as far as
Headwater reads them: an event whose ``sql.query`` is a number, or whose ``columnLineage``
fields are a list, is refused with a 422 naming the path, instead of being accepted and then
failing to project. Only what is read is checked, and keys stay optional: the spec's own
leniency (and that of its producers) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any, str], None]  # (value, path); raises FacetShapeError


class FacetShapeError(ValueError):
    """A standard facet with a value of the wrong type (``path``: where, ``reason``: why)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _type(expected: type | tuple[type, ...], name: str) -> Check:
    def check(value: Any, path: str) -> None:
        if value is None or (isinstance(value, expected) and not isinstance(value, bool)):
            return None
        if expected is bool and isinstance(value, bool):
            return None
        raise FacetShapeError(path, f"must be {name}")

    return check


STR = _type(str, "a string")
BOOL = _type(bool, "a boolean")
SCALAR = _type((str, int, float), "a string or a number")


def obj(**fields: Check) -> Check:
    """An object (or null) whose listed keys, when present, pass their checks."""

    def check(value: Any, path: str) -> None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise FacetShapeError(path, "must be an object")
        for key, sub in fields.items():
            if key in value:
                sub(value[key], f"{path}.{key}")
        return None

    return check


def array(item: Check) -> Check:
    """An array (or null) whose items pass ``item``."""

    def check(value: Any, path: str) -> None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise FacetShapeError(path, "must be an array")
        for i, element in enumerate(value):
            item(element, f"{path}[{i}]")
        return None

    return check


def mapping(item: Check) -> Check:
    """An object (or null) used as a map: every value passes ``item``."""

    def check(value: Any, path: str) -> None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise FacetShapeError(path, "must be an object")
        for key, element in value.items():
            item(element, f"{path}.{key}")
        return None

    return check


def _schema_field(value: Any, path: str) -> None:
    return obj(name=STR, type=STR, description=STR, fields=array(_schema_field))(value, path)


_INPUT_FIELD = obj(
    namespace=STR,
    name=STR,
    field=STR,
    transformations=array(obj(type=STR, subtype=STR, description=STR, masking=BOOL)),
)
_DOCUMENTATION = obj(description=STR)
_OWNERSHIP = obj(owners=array(obj(name=STR, type=STR)))

DATASET_FACETS: Mapping[str, Check] = {
    "schema": obj(fields=array(_schema_field)),
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


def check_facets(facets: Mapping[str, Any], known: Mapping[str, Check], path: str) -> None:
    """Check the standard facets among ``facets`` (the rest pass as they are).

    Raises:
        FacetShapeError: naming the first value of the wrong type.
    """
    for name, facet in facets.items():
        check = known.get(name)
        if check is not None:
            check(facet, f"{path}.{name}")
