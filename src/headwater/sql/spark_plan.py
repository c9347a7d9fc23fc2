"""Column lineage from Spark's analyzed logical plan (pure: the plan's JSON in, lineage out).

Spark serialises a plan with ``TreeNode.toJSON``: a flat, pre-order list of nodes, each with
``class``, ``num-children`` and its fields; a field that holds a child holds the child's index,
and expressions are flattened the same way. Every attribute carries an ``exprId``, so lineage is
followed by id, not by name: an ``Alias`` defines a new id from the ids its expression reads, a
relation's output ids are where data comes from. This is the shape of the OpenLineage Spark
agent's ``spark.logicalPlan`` run facet, so the same code derives column lineage for events from
the agent and for plans read from a live session (:mod:`headwater.capture.spark`).

Transformations follow the SQL engine (:mod:`headwater.sql`): DIRECT IDENTITY / TRANSFORMATION /
AGGREGATION per output column (masking for hashes and counts), INDIRECT CONDITIONAL and WINDOW
inside expressions, INDIRECT FILTER / JOIN / GROUP_BY / SORT from the plan's operators, reported
on every column and as dataset-level dependencies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.sql.model import (
    DIRECT_RANK,
    ColumnLineage,
    DatasetRef,
    InputField,
    StatementLineage,
    Transformation,
)

RelationNamer = Callable[["PlanNode"], DatasetRef | None]

# Leaves whose output attributes are where data comes from.
RELATIONS = frozenset(
    {
        "LogicalRelation",
        "HiveTableRelation",
        "DataSourceV2Relation",
        "DataSourceV2ScanRelation",
        "StreamingDataSourceV2Relation",
        "LocalRelation",
        "LogicalRDD",
        "InMemoryRelation",
        "Range",
        "ExternalRDD",
    }
)
MASKING = frozenset(
    {"Sha1", "Sha2", "Md5", "Crc32", "Murmur3Hash", "XxHash64", "HiveHash", "Mask", "Count"}
)
_CHILD_FIELDS = ("query", "child", "plan")
_SUBQUERIES = frozenset({"ScalarSubquery", "Exists", "ListQuery", "LateralSubquery"})
_OPERATORS = {
    "Add": "+",
    "Subtract": "-",
    "Multiply": "*",
    "Divide": "/",
    "IntegralDivide": "div",
    "Remainder": "%",
    "EqualTo": "=",
    "EqualNullSafe": "<=>",
    "GreaterThan": ">",
    "GreaterThanOrEqual": ">=",
    "LessThan": "<",
    "LessThanOrEqual": "<=",
    "And": "AND",
    "Or": "OR",
}


class PlanError(ValueError):
    """The plan JSON is not a Spark plan (names what is wrong)."""


@dataclass(slots=True)
class PlanNode:
    """A node of a plan or expression tree, rebuilt from Spark's flat JSON."""

    cls: str
    fields: dict[str, Any]
    children: list[PlanNode]

    @property
    def short(self) -> str:
        """The class name without its package (``Project``, ``Alias``...)."""
        return self.cls.rsplit(".", 1)[-1]

    def expressions(self, key: str) -> list[PlanNode]:
        """The expressions held in field ``key`` (one flattened tree, or a list of them)."""
        return _trees(self.fields.get(key))

    def child(self, key: str) -> PlanNode | None:
        """The child (or nested plan) held in field ``key``."""
        value = self.fields.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < len(self.children):
            return self.children[value]
        trees = _trees(value)
        return trees[0] if len(trees) == 1 else None

    @property
    def expr_id(self) -> int | None:
        """The ``exprId`` of an attribute or alias."""
        value = self.fields.get("exprId")
        return int(value["id"]) if isinstance(value, dict) and "id" in value else None

    @property
    def name(self) -> str:
        """The ``name`` field (attributes, aliases)."""
        return str(self.fields.get("name", ""))

    def walk(self) -> Iterator[PlanNode]:
        """This node and every descendant, pre-order."""
        yield self
        for c in self.children:
            yield from c.walk()


def parse_plan(flat: list[dict[str, Any]]) -> PlanNode:
    """Rebuild the tree from ``TreeNode.toJSON`` output (a flat pre-order list).

    Raises:
        PlanError: when ``flat`` is not such a list.
    """
    if not isinstance(flat, list) or not flat or not isinstance(flat[0], dict):
        raise PlanError("a Spark plan is a non-empty JSON list of nodes")
    position = 0

    def take() -> PlanNode:
        nonlocal position
        if position >= len(flat):
            raise PlanError("the plan ends before all children were read (num-children)")
        raw = flat[position]
        position += 1
        if not isinstance(raw, dict) or "class" not in raw:
            raise PlanError(f"plan node {position - 1} has no 'class'")
        count = int(raw.get("num-children", 0) or 0)
        return PlanNode(str(raw["class"]), raw, [take() for _ in range(count)])

    return take()


def _trees(value: Any) -> list[PlanNode]:
    if not isinstance(value, list) or not value:
        return []
    if isinstance(value[0], dict) and "class" in value[0]:
        return [parse_plan(value)]
    return [parse_plan(v) for v in value if isinstance(v, list) and v]


@dataclass(frozen=True, slots=True)
class _Edge:
    source: int
    type: str
    subtype: str
    description: str
    masking: bool


@dataclass
class PlanLineage:
    """What a write command's plan says: its command, the datasets read, lineage per output column."""

    command: str
    inputs: tuple[DatasetRef, ...]
    columns: tuple[ColumnLineage, ...]
    dataset_dependencies: tuple[InputField, ...]
    output_names: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    def statement(self, output: DatasetRef | None, sql: str = "") -> StatementLineage:
        """As the SQL engine's :class:`StatementLineage`, for the facets and the store."""
        return StatementLineage(
            index=0,
            sql=sql,
            kind=self.command,
            dialect="spark",
            inputs=self.inputs,
            outputs=(output,) if output else (),
            columns=tuple(ColumnLineage(output, c.field, c.inputs) for c in self.columns),
            dataset_dependencies=self.dataset_dependencies,
        )


def table_identifier(node: PlanNode) -> str | None:
    """``db.table`` of a relation or write command, from its catalog table fields (if any)."""
    for key in ("catalogTable", "tableMeta", "table", "tableDesc"):
        value = node.fields.get(key)
        if isinstance(value, dict) and isinstance(value.get("identifier"), dict):
            ident = value["identifier"]
            db = ident.get("database")
            return f"{db}.{ident['table']}" if db else str(ident.get("table"))
    identifier = node.fields.get("identifier")  # DataSourceV2Relation: "db.table" or a list
    if isinstance(identifier, str) and identifier:
        return identifier.strip("`")
    return None


def write_query(root: PlanNode) -> PlanNode:
    """The query of a write command (the root itself when it is not a command)."""
    for key in ("query", "child"):
        query = root.child(key)
        if query is not None and key in root.fields:
            return query
    return root


class _Tracer:
    def __init__(self, namer: RelationNamer) -> None:
        self.namer = namer
        self.origins: dict[int, tuple[DatasetRef, str]] = {}
        self.edges: dict[int, list[_Edge]] = {}
        self.indirect: list[tuple[int, str, str]] = []
        self.inputs: dict[DatasetRef, None] = {}
        self.ctes: dict[Any, list[tuple[int, str]]] = {}
        self.warnings: list[str] = []
        self._memo: dict[int, dict[tuple[DatasetRef, str], set[Transformation]]] = {}

    # -- plan operators -------------------------------------------------------------------------
    def output(self, node: PlanNode) -> list[tuple[int, str]]:
        """Trace ``node``; return its output attributes as (exprId, name)."""
        kind = node.short
        if kind in RELATIONS:
            return self._relation(node)
        if kind == "WithCTE":
            for definition in node.children[1:]:
                self.output(definition)
            return self.output(node.children[0]) if node.children else []
        if kind == "CTERelationDef":
            out = self.output(node.children[0]) if node.children else []
            self.ctes[node.fields.get("id")] = out
            return out
        if kind == "CTERelationRef":
            out = _attributes(node.expressions("output"))
            for (expr_id, _), (source, _) in zip(
                out, self.ctes.get(node.fields.get("cteId"), []), strict=False
            ):
                self._edge(expr_id, source, "DIRECT", "IDENTITY", "", False)
            return out
        children = [self.output(c) for c in node.children]
        if kind in ("Project", "Aggregate"):
            if kind == "Aggregate":
                self._operator(node, "groupingExpressions", "GROUP_BY")
            key = "projectList" if kind == "Project" else "aggregateExpressions"
            return [self._named(e) for e in node.expressions(key)]
        if kind == "Window":
            return children[0] + [self._named(e) for e in node.expressions("windowExpressions")]
        if kind == "Filter":
            self._operator(node, "condition", "FILTER")
        elif kind == "Join":
            self._operator(node, "condition", "JOIN")
            join_type = str((node.fields.get("joinType") or {}).get("object", ""))
            if "LeftSemi" in join_type or "LeftAnti" in join_type:
                return children[0]
        elif kind == "Sort":
            self._operator(node, "order", "SORT")
        elif kind == "Union":
            first = children[0] if children else []
            for other in children[1:]:
                for (target, _), (source, _) in zip(first, other, strict=False):
                    self._edge(target, source, "DIRECT", "IDENTITY", "", False)
            return first
        elif kind == "Generate":
            generator = node.expressions("generator")
            outputs = _attributes(node.expressions("generatorOutput"))
            for expr_id, _ in outputs:
                for g in generator:
                    self._define(expr_id, g)
            return (
                children[0] if node.fields.get("unrequiredChildIndex") != "all" else []
            ) + outputs
        elif kind == "Expand":
            outputs = _attributes(node.expressions("output"))
            for projection in node.fields.get("projections") or []:
                for (expr_id, _), expression in zip(outputs, _trees(projection), strict=False):
                    self._define(expr_id, expression)
            return outputs
        return [attribute for child in children for attribute in child]

    def _relation(self, node: PlanNode) -> list[tuple[int, str]]:
        out = _attributes(node.expressions("output"))
        if node.short == "HiveTableRelation":
            out = _attributes(node.expressions("dataCols")) + _attributes(
                node.expressions("partitionCols")
            )
        dataset = self.namer(node)
        if dataset is None:
            if node.short not in ("LocalRelation", "Range", "LogicalRDD", "ExternalRDD"):
                self.warnings.append(f"{node.short}: no dataset name (columns not traced)")
            return out
        self.inputs[dataset] = None
        for expr_id, name in out:
            self.origins[expr_id] = (dataset, name)
        return out

    def _operator(self, node: PlanNode, key: str, subtype: str) -> None:
        for expression in node.expressions(key):
            description = render(expression)
            for ref in _references(expression):
                self.indirect.append((ref, subtype, description))
            self._subqueries(expression)

    # -- expressions ----------------------------------------------------------------------------
    def _named(self, expression: PlanNode) -> tuple[int, str]:
        expr_id = expression.expr_id
        if expr_id is None:  # not a named expression: nothing to define
            return (-1, render(expression))
        if expression.short == "Alias" and expression.children:
            self._define(expr_id, expression.children[0])
        return (expr_id, expression.name)

    def _define(self, expr_id: int, expression: PlanNode) -> None:
        description = render(expression)
        identity = _strip(expression).short in ("AttributeReference", "OuterReference")
        self._subqueries(expression)
        for ref, kind, subtype, masking in _uses(expression, identity):
            self._edge(expr_id, ref, kind, subtype, description, masking)

    def _subqueries(self, expression: PlanNode) -> None:
        for sub in expression.walk():
            if sub.short in _SUBQUERIES:
                plan = sub.child("plan")
                if plan is not None:
                    for ref, _ in self.output(plan):
                        kind = "DIRECT" if sub.short == "ScalarSubquery" else "INDIRECT"
                        if kind == "INDIRECT":
                            self.indirect.append((ref, "FILTER", render(sub)))

    def _edge(
        self, target: int, source: int, kind: str, subtype: str, description: str, masking: bool
    ) -> None:
        if target != source:
            self.edges.setdefault(target, []).append(
                _Edge(source, kind, subtype, description, masking)
            )

    # -- resolution -----------------------------------------------------------------------------
    def sources(self, expr_id: int) -> dict[tuple[DatasetRef, str], set[Transformation]]:
        """The source columns of attribute ``expr_id`` and how they reach it."""
        if expr_id in self._memo:
            return self._memo[expr_id]
        self._memo[expr_id] = {}  # cycle guard
        found: dict[tuple[DatasetRef, str], set[Transformation]] = {}
        if expr_id in self.origins:
            found[self.origins[expr_id]] = {Transformation("DIRECT", "IDENTITY")}
        for edge in self.edges.get(expr_id, []):
            for source, transformations in self.sources(edge.source).items():
                bucket = found.setdefault(source, set())
                for t in transformations:
                    if edge.type == "INDIRECT":
                        bucket.add(Transformation("INDIRECT", edge.subtype, edge.description))
                    elif t.type == "DIRECT":
                        subtype = max(edge.subtype, t.subtype, key=DIRECT_RANK.__getitem__)
                        description = edge.description if subtype != "IDENTITY" else ""
                        bucket.add(
                            Transformation(
                                "DIRECT", subtype, description, edge.masking or t.masking
                            )
                        )
                    else:
                        bucket.add(t)
        self._memo[expr_id] = found
        return found


def _attributes(expressions: list[PlanNode]) -> list[tuple[int, str]]:
    return [(e.expr_id, e.name) for e in expressions if e.expr_id is not None]


def _strip(expression: PlanNode) -> PlanNode:
    while expression.short in ("Alias",) and expression.children:
        expression = expression.children[0]
    return expression


def _references(expression: PlanNode) -> list[int]:
    return [
        n.expr_id
        for n in expression.walk()
        if n.short == "AttributeReference" and n.expr_id is not None
    ]


def _uses(expression: PlanNode, identity: bool) -> Iterator[tuple[int, str, str, bool]]:
    """(exprId, type, subtype, masking) for every attribute ``expression`` reads."""

    def visit(
        node: PlanNode, aggregate: bool, masking: bool, indirect: str | None
    ) -> Iterator[tuple[int, str, str, bool]]:
        kind = node.short
        if kind == "AttributeReference" and node.expr_id is not None:
            if indirect:
                yield (node.expr_id, "INDIRECT", indirect, False)
            else:
                subtype = (
                    "AGGREGATION" if aggregate else "IDENTITY" if identity else "TRANSFORMATION"
                )
                yield (node.expr_id, "DIRECT", subtype, masking)
            return
        masking = masking or kind in MASKING
        if kind == "AggregateExpression":
            aggregate = True
        if kind == "CaseWhen":
            has_else = len(node.children) % 2 == 1
            for i, child in enumerate(node.children):
                is_condition = i % 2 == 0 and not (has_else and i == len(node.children) - 1)
                yield from visit(
                    child, aggregate, masking, "CONDITIONAL" if is_condition else indirect
                )
            return
        if kind == "If" and len(node.children) == 3:
            yield from visit(node.children[0], aggregate, masking, "CONDITIONAL")
            for child in node.children[1:]:
                yield from visit(child, aggregate, masking, indirect)
            return
        if kind == "WindowExpression" and node.children:
            function, *spec = node.children
            yield from visit(function, True, masking, indirect)
            for child in spec:
                yield from visit(child, aggregate, masking, "WINDOW")
            return
        for child in node.children:
            yield from visit(child, aggregate, masking, indirect)

    yield from visit(expression, False, False, None)


def render(expression: PlanNode) -> str:
    """A readable SQL-like text of an expression, for transformation descriptions."""
    kind = expression.short
    kids = [render(c) for c in expression.children]
    if kind in ("AttributeReference", "UnresolvedAttribute"):
        return expression.name
    if kind == "OuterReference" and kids:
        return kids[0]
    if kind == "Literal":
        value = expression.fields.get("value")
        if value is None:
            return "NULL"
        return f"'{value}'" if expression.fields.get("dataType") == "string" else str(value)
    if kind == "Alias":
        return f"{kids[0]} AS {expression.name}" if kids else expression.name
    if kind in _OPERATORS and len(kids) == 2:
        return f"({kids[0]} {_OPERATORS[kind]} {kids[1]})"
    if kind == "Not" and kids:
        return f"NOT {kids[0]}"
    if kind == "Cast" and kids:
        return f"CAST({kids[0]} AS {str(expression.fields.get('dataType', '')).upper()})"
    if kind == "AggregateExpression" and kids:
        return (
            kids[0].replace("(", "(DISTINCT ", 1)
            if expression.fields.get("isDistinct")
            else kids[0]
        )
    if kind == "WindowExpression" and len(kids) == 2:
        return f"{kids[0]} OVER ({kids[1]})"
    if kind == "WindowSpecDefinition":
        parts = expression.expressions("partitionSpec")
        order = expression.expressions("orderSpec")
        text = "PARTITION BY " + ", ".join(render(p) for p in parts) if parts else ""
        if order:
            text += (" " if text else "") + "ORDER BY " + ", ".join(render(o) for o in order)
        return text
    if kind == "SortOrder" and kids:
        direction = str((expression.fields.get("direction") or {}).get("object", ""))
        return kids[0] + (" DESC" if "Descending" in direction else "")
    if kind == "CaseWhen":
        text, pairs = "CASE", len(kids) // 2
        for i in range(pairs):
            text += f" WHEN {kids[2 * i]} THEN {kids[2 * i + 1]}"
        return text + (f" ELSE {kids[-1]}" if len(kids) % 2 else "") + " END"
    if kind in ("PythonUDF", "ScalaUDF", "HiveSimpleUDF", "HiveGenericUDF"):
        name = expression.fields.get("name") or expression.fields.get("udfName") or "udf"
        return f"{name}({', '.join(kids)})"
    if kind in ("ScalarSubquery", "Exists", "ListQuery"):
        return f"{snake_case(kind).upper()}(subquery)"
    if kind in ("SpecifiedWindowFrame", "UnspecifiedFrame"):
        return ""
    return f"{snake_case(kind)}({', '.join(k for k in kids if k)})"


def snake_case(name: str) -> str:
    """``MergeIntoTable`` -> ``merge_into_table`` (Spark class names in job names and descriptions)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def output_column_names(root: PlanNode) -> list[str] | None:
    """A write command's ``outputColumnNames`` (Spark prints them as ``[a, b]``)."""
    value = root.fields.get("outputColumnNames")
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value.startswith("["):
        inner = value[1:-1].strip()
        return [v.strip() for v in inner.split(",")] if inner else []
    return None


def plan_lineage(plan: list[dict[str, Any]] | PlanNode, namer: RelationNamer) -> PlanLineage:
    """Column lineage of a (write command's) analyzed logical plan.

    Args:
        plan: Spark's ``toJSON`` of the plan (or a parsed :class:`PlanNode`).
        namer: names the dataset a relation node reads (None: not a dataset, e.g. literal rows).

    Returns:
        The command's class, input datasets, per-output-column lineage and dataset-level
        INDIRECT dependencies.

    Raises:
        PlanError: when ``plan`` is not a Spark plan.
    """
    root = plan if isinstance(plan, PlanNode) else parse_plan(plan)
    tracer = _Tracer(namer)
    if root.short == "MergeIntoTable":
        outputs = _merge(root, tracer)
        names = [name for _, name in outputs]
    else:
        outputs = tracer.output(write_query(root))
        names = output_column_names(root) or [name for _, name in outputs]
    indirect: dict[tuple[DatasetRef, str], set[Transformation]] = {}
    for ref, subtype, description in tracer.indirect:
        for source in tracer.sources(ref):
            indirect.setdefault(source, set()).add(Transformation("INDIRECT", subtype, description))
    dataset_deps = tuple(
        InputField(ds, col, tuple(sorted(ts))) for (ds, col), ts in sorted(indirect.items())
    )
    columns = []
    for name, (expr_id, _) in zip(names, outputs, strict=False):
        merged: dict[tuple[DatasetRef, str], set[Transformation]] = {}
        for source, ts in tracer.sources(expr_id).items():
            merged.setdefault(source, set()).update(ts)
        if not merged and root.short == "MergeIntoTable":
            continue  # a target column no action assigns
        for source, ts in indirect.items():
            merged.setdefault(source, set()).update(ts)
        fields = tuple(
            InputField(ds, col, tuple(sorted(ts))) for (ds, col), ts in sorted(merged.items())
        )
        columns.append(ColumnLineage(None, name, fields))
    return PlanLineage(
        command=root.short,
        inputs=tuple(tracer.inputs),
        columns=tuple(columns),
        dataset_dependencies=dataset_deps,
        output_names=tuple(names),
        warnings=tuple(tracer.warnings),
    )


def _merge(root: PlanNode, tracer: _Tracer) -> list[tuple[int, str]]:
    """``MERGE INTO``: target columns defined by the actions' assignments from the source.

    The source is traced as a query; the target is the output only (its own rows kept by the
    merge are not reported as an input of itself). The merge condition is an INDIRECT JOIN, an
    action's ``AND`` condition an INDIRECT CONDITIONAL.
    """
    source, target = root.child("sourceTable"), root.child("targetTable")
    if source is not None:
        tracer.output(source)
    outputs: list[tuple[int, str]] = []
    relation = next((n for n in target.walk() if n.short in RELATIONS), None) if target else None
    if relation is not None:
        outputs = _attributes(relation.expressions("output")) or _attributes(
            relation.expressions("dataCols")
        )
    tracer._operator(root, "mergeCondition", "JOIN")
    for key in ("matchedActions", "notMatchedActions", "notMatchedBySourceActions"):
        for action in root.expressions(key):
            condition = action.child("condition")  # a child index, or the tree inline
            if condition is not None:
                for ref in _references(condition):
                    tracer.indirect.append((ref, "CONDITIONAL", render(condition)))
            for index in action.fields.get("assignments") or []:
                if not isinstance(index, int) or index >= len(action.children):
                    continue
                assignment = action.children[index]
                if len(assignment.children) == 2:
                    column, value = assignment.children
                    if column.expr_id is not None:
                        tracer._define(column.expr_id, value)
    return outputs


def with_plan_lineage(
    outputs: list[dict[str, Any]], inputs: list[dict[str, Any]], run_facets: dict[str, Any]
) -> list[dict[str, Any]]:
    """Outputs of an event, with a ``columnLineage`` facet derived from ``spark.logicalPlan``.

    For events from the OpenLineage Spark agent that carry the plan but no column lineage (the
    agent's column lineage switched off, or older agents). Relations in the plan are matched to
    the event's inputs by catalog identifier (the inputs' ``symlinks``) or by table name at the
    end of the input's path. Outputs that already have column lineage are left alone; the event
    itself is not changed.
    """
    plan = (run_facets.get("spark.logicalPlan") or {}).get("plan")
    targets = [o for o in outputs if not (o.get("facets") or {}).get("columnLineage")]
    if not plan or len(outputs) != 1 or not targets:
        return outputs
    known: dict[str, DatasetRef] = {}
    for dataset in inputs:
        ref = DatasetRef(str(dataset.get("namespace")), str(dataset.get("name")))
        symlinks = ((dataset.get("facets") or {}).get("symlinks") or {}).get("identifiers") or []
        for link in symlinks:
            if isinstance(link, dict) and link.get("name"):
                known[str(link["name"]).lower()] = ref
        known.setdefault(ref.name.rstrip("/").rsplit("/", 1)[-1].lower(), ref)

    def namer(node: PlanNode) -> DatasetRef | None:
        identifier = (table_identifier(node) or "").lower()
        return known.get(identifier) or known.get(identifier.rsplit(".", 1)[-1])

    try:
        lineage = plan_lineage(plan, namer)
    except (PlanError, KeyError, TypeError, ValueError):
        return outputs
    if not lineage.columns:
        return outputs
    facet = lineage.statement(None).column_lineage_facet()
    output = outputs[0]
    return [{**output, "facets": {**(output.get("facets") or {}), "columnLineage": facet}}]
