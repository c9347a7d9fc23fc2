"""Search over datasets, jobs and fields: the queries, built from the places to look.

Pure query building (SQLAlchemy Core, no connection): one SELECT per kind of result and place
to look (name, namespace, column, tag, owner, SQL), all with the same columns, united, one
result kept per entity (its best-ranked match), counted and paged. The one backend difference
is how a stored JSON array becomes rows (:func:`_json_objects`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql

from headwater.store import schema as t
from headwater.store import views
from headwater.store.base import SEARCH_MATCHES, Json


def search_queries(
    dialect: str,
    q: str,
    kinds: set[str],
    places: Sequence[str],
    namespace: str | None,
    sort: str,
    limit: int,
) -> tuple[Select[Any], Select[Any]] | None:
    """The statements counting the matches and reading one page of them (None: no kind of
    result can match in ``places``).

    Args:
        dialect: ``sqlite`` or ``postgresql``.
        q: the text to find, case-insensitively, ``%`` and ``_`` literal.
        kinds: ``DATASET``, ``JOB``, ``FIELD``.
        places: where to look, in :data:`SEARCH_MATCHES` order (the rank of a match).
        namespace: only entities of this namespace.
        sort: ``NAME``, ``UPDATE_AT`` (newest first) or ``RELEVANCE`` (best place first).
        limit: the page's size.
    """
    parts = _search_parts(dialect, q, kinds, places)
    if not parts:
        return None
    union = union_all(*parts).subquery("found")
    if namespace:
        union = select(union).where(union.c.namespace == namespace).subquery("in_namespace")
    # one result per entity: the best-ranked way it matched
    entity = (union.c.kind, union.c.namespace, union.c.name, union.c.field)
    best = func.row_number().over(partition_by=entity, order_by=union.c.rank)
    ranked = select(union, best.label("rn")).subquery("ranked")
    found = select(ranked).where(ranked.c.rn == 1).subquery("best")
    by_name = (found.c.name, found.c.field, found.c.namespace, found.c.kind)
    order = {
        "UPDATE_AT": (found.c.updated_at.desc(), *by_name),
        "RELEVANCE": (found.c.rank, *by_name),
    }.get(sort, by_name)
    return select(func.count()).select_from(found), select(found).order_by(*order).limit(limit)


def search_result(r: Any, q: str, extended: bool) -> Json:
    """One search result; the extension keys only when the caller asked where to look."""
    prefix = {"DATASET": "dataset", "JOB": "job", "FIELD": "datasetField"}[r.kind]
    node = f"{prefix}:{r.namespace}:{r.name}" + (f":{r.field}" if r.kind == "FIELD" else "")
    result: Json = {
        "type": r.kind,
        "name": r.field if r.kind == "FIELD" else r.name,
        "updatedAt": views.iso(r.updated_at),
        "namespace": r.namespace,
        "nodeId": node,
    }
    if not extended:
        return result
    if r.kind == "FIELD":
        result["dataset"] = r.name
        result["field"] = r.field
    result["matched"] = r.matched
    result["detail"] = _snippet(r.detail, q) if r.matched == "sql" else r.detail
    return result


def _snippet(text: str | None, q: str, width: int = 120) -> str | None:
    """The line of ``text`` holding ``q`` (case-insensitive), shortened around it to ``width``."""
    if not text:
        return text
    needle = q.lower()
    line = next((ln.strip() for ln in text.splitlines() if needle in ln.lower()), text.strip())
    if len(line) <= width:
        return line
    at = max(0, line.lower().find(needle) - width // 3)
    cut = line[at : at + width]
    return ("…" if at else "") + cut + ("…" if at + width < len(line) else "")


def _json_objects(
    dialect: str, column: Any, *path: str
) -> tuple[Any, Callable[[str], ColumnElement[Any]], ColumnElement[bool]]:
    """The objects of the JSON array at ``path`` in a JSON ``column``, one row each.

    The one backend difference of search: SQLite expands arrays with ``json_each``, PostgreSQL
    with ``jsonb_array_elements`` (guarded: it refuses anything but an array). Returns the
    from-clause to join ``ON true``, an accessor of an object member as text, and the condition
    that keeps objects only (a missing path or a non-object element gives no row).
    """
    if dialect == "postgresql":
        array = column
        for key in path:
            array = array[key]
        guarded = case(
            (func.jsonb_typeof(array) == "array", array),
            else_=cast(literal("[]"), postgresql.JSONB),
        )
        pg_items = func.jsonb_array_elements(guarded).table_valued("value").alias()
        return (
            pg_items,
            lambda key: pg_items.c.value.op("->>")(literal(key)),
            func.jsonb_typeof(pg_items.c.value) == "object",
        )
    args = (column, "$." + ".".join(path)) if path else (column,)
    items = func.json_each(*args).table_valued("value", "type").alias()
    return (
        items,
        lambda key: func.json_extract(items.c.value, f"$.{key}"),
        items.c.type == "object",
    )


def _search_parts(dialect: str, q: str, kinds: set[str], match: Sequence[str]) -> list[Any]:
    """One SELECT per (kind of result, place to look), all with the same columns.

    Columns: ``kind``, ``namespace``, ``name``, ``field`` ('' unless FIELD), ``updated_at``,
    ``rank`` (the place's position in :data:`SEARCH_MATCHES`), ``matched``, ``detail``.
    """
    needle = q.lower()

    def has(expr: Any) -> ColumnElement[bool]:
        # autoescape: a '%' or '_' typed by the user is matched literally
        return func.lower(expr).contains(needle, autoescape=True)

    def row(kind: str, table: Any, where: str, field: Any, detail: Any) -> Any:
        return (
            literal(kind).label("kind"),
            table.c.namespace.label("namespace"),
            table.c.name.label("name"),
            (literal("") if field is None else field).label("field"),
            table.c.updated_at.label("updated_at"),
            literal(SEARCH_MATCHES.index(where)).label("rank"),
            literal(where).label("matched"),
            (null() if detail is None else cast(detail, Text)).label("detail"),
        )

    ds, jobs = t.datasets, t.jobs
    entities = [(k, table) for k, table in (("DATASET", ds), ("JOB", jobs)) if k in kinds]
    parts: list[Any] = []
    for where in match:
        if where in ("name", "namespace"):
            for kind, table in entities:
                parts.append(
                    select(*row(kind, table, where, None, None)).where(has(table.c[where]))
                )
        elif where == "column" and "FIELD" in kinds:
            items, member, is_object = _json_objects(dialect, ds.c.fields)
            parts.append(
                select(*row("FIELD", ds, where, member("name"), member("type")))
                .select_from(ds)
                .join(items, true())
                .where(and_(is_object, has(member("name"))))
            )
        elif where == "tag":
            tags = t.dataset_tags
            for kind, level in (("DATASET", tags.c.field == ""), ("FIELD", tags.c.field != "")):
                if kind in kinds:
                    field = None if kind == "DATASET" else tags.c.field
                    parts.append(
                        select(*row(kind, ds, where, field, tags.c.tag))
                        .select_from(ds)
                        .join(tags, tags.c.dataset_id == ds.c.id)
                        .where(and_(level, has(tags.c.tag)))
                    )
            # the OpenLineage tags facet: [{"key", "value", "field"?}] on datasets and jobs
            for kind, table in (("DATASET", ds), ("FIELD", ds), ("JOB", jobs)):
                if kind not in kinds:
                    continue
                items, member, is_object = _json_objects(dialect, table.c.facets, "tags", "tags")
                on_field = func.coalesce(member("field"), "")
                parts.append(
                    select(
                        *row(
                            kind,
                            table,
                            where,
                            on_field if kind == "FIELD" else None,
                            member("key") + literal("=") + func.coalesce(member("value"), ""),
                        )
                    )
                    .select_from(table)
                    .join(items, true())
                    .where(
                        and_(
                            is_object,
                            has(member("key")),
                            on_field != "" if kind == "FIELD" else on_field == "",
                        )
                    )
                )
        elif where == "owner":
            for kind, table in entities:
                items, member, is_object = _json_objects(
                    dialect, table.c.facets, "ownership", "owners"
                )
                parts.append(
                    select(*row(kind, table, where, None, member("name")))
                    .select_from(table)
                    .join(items, true())
                    .where(and_(is_object, has(member("name"))))
                )
        elif where == "sql" and "JOB" in kinds:
            jv = t.job_versions
            parts.append(
                select(*row("JOB", jobs, where, None, jv.c.sql))
                .select_from(jobs)
                .join(jv, jv.c.id == jobs.c.current_version_id)
                .where(has(jv.c.sql))
            )
    return parts
