"""Column lineage of one query: one qualify, one scope walk.

For every projection of the query's root scope, :class:`QueryTracer` follows
each column reference to its source: a base table (an input field), or a derived
scope (CTE, subquery in FROM, UNION branch) whose own projection is traced in
turn, composing transformation types on the way. Clauses that decide *which*
rows flow (joins, filters, grouping, sorting, window partitions, CASE
conditions) give INDIRECT edges, both per output column and for the dataset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType, build_scope

from headwater.sql.model import DIRECT_RANK, DatasetRef, Transformation, TransformationType

Field = tuple[DatasetRef, str]
Edges = dict[Field, set[Transformation]]

MASKING_FUNCTIONS = frozenset(
    {
        "MD5",
        "SHA",
        "SHA1",
        "SHA2",
        "SHA256",
        "SHA512",
        "SHA224",
        "SHA384",
        "HASH",
        "FARM_FINGERPRINT",
        "MASK",
        "MASK_HASH",
        "MASK_FIRST_N",
        "MASK_LAST_N",
        "MASK_SHOW_FIRST_N",
        "MASK_SHOW_LAST_N",
        "REDACT",
        "CRC32",
        "XXHASH64",
        "MURMUR3",
        "STANDARD_HASH",
        "HASHBYTES",
        "ENCRYPT",
        "AES_ENCRYPT",
        "HMAC",
        "TOKENIZE",
        "MD5_HEX",
        "SHA2_HEX",
        "SHA1_HEX",
        "MD5HEX",
        "SHA256HEX",
    }
)
MASKING_EXPRESSIONS = (exp.MD5, exp.SHA, exp.SHA2, exp.Count)
# Window functions that pick a row's value rather than combine rows: a TRANSFORMATION, not an AGGREGATION.
NAVIGATION_FUNCTIONS = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


def merge(into: Edges, other: Edges) -> None:
    """Union ``other`` into ``into``."""
    for key, ts in other.items():
        into.setdefault(key, set()).update(ts)


def compose(outer: Transformation, inner: Transformation) -> Transformation:
    """The transformation of an input seen through an intermediate column.

    DIRECT over DIRECT keeps the strongest subtype (AGGREGATION > TRANSFORMATION > IDENTITY).
    An INDIRECT inner edge stays what it is (a filter in a subquery filters the output's rows,
    however the outer query uses that subquery); an INDIRECT use of a DIRECT-derived column
    makes its sources INDIRECT with the outer subtype (a join key computed in a CTE).
    """
    masking = outer.masking or inner.masking
    if inner.type == "INDIRECT":
        return Transformation("INDIRECT", inner.subtype, inner.description, masking)
    if outer.type == "INDIRECT":
        return Transformation("INDIRECT", outer.subtype, outer.description, masking)
    sub = max(outer.subtype, inner.subtype, key=lambda s: DIRECT_RANK.get(s, 1))
    desc = outer.description if outer.subtype != "IDENTITY" else inner.description
    return Transformation("DIRECT", sub, desc, masking)


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    return node.sql_name() if isinstance(node, exp.Func) else ""


def _in_subquery(node: exp.Expr, root: exp.Expr) -> bool:
    """Whether ``node`` sits in a nested query below ``root`` (a separate scope)."""
    if node is root:
        return False
    parent = node.parent
    while parent is not None and parent is not root:
        if isinstance(parent, exp.Query | exp.Subquery):
            return True
        parent = parent.parent
    return False


def _inside(node: exp.Expr, ancestor: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False


class QueryTracer:
    """Trace a qualified query's columns to base tables.

    Args:
        root: the qualified query (a Select or set operation).
        dataset_of: maps a base ``exp.Table`` to its OpenLineage dataset.
        dialect: for rendering expressions as SQL.
        warn: collects unresolved references.
    """

    def __init__(
        self,
        root: exp.Expr,
        dataset_of: Callable[[exp.Table], DatasetRef],
        dialect: str,
        warn: Callable[[str, exp.Expr | None], None],
    ) -> None:
        self.dialect = dialect
        self.dataset_of = dataset_of
        self.warn = warn
        scope = build_scope(root)
        if scope is None:
            msg = "cannot build scopes for this query"
            raise ValueError(msg)
        self.scope = scope
        self._projection_cache: dict[tuple[int, str], Edges] = {}
        self._indirect_cache: dict[int, Edges] = {}
        self.inputs: set[DatasetRef] = set()
        # A recursive CTE's anchor is registered as a bare scope without sources; map every
        # expression to the fully collected scope that walks it.
        self._canonical: dict[int, Scope] = {}
        for sc in self.scope.traverse():
            self._canonical.setdefault(id(sc.expression), sc)
        for sc in self.scope.traverse():
            for source in sc.sources.values():
                if isinstance(source, exp.Table):
                    self.inputs.add(self.dataset_of(source))

    # -- public ------------------------------------------------------------------------------
    def output_names(self) -> list[str]:
        """Names of the root projections, in order."""
        return [p.alias_or_name for p in self._selects(self.scope)]

    def outputs(self) -> list[tuple[str, Edges]]:
        """Each root projection with its DIRECT and per-column INDIRECT input edges."""
        shared = self.indirect(self.scope)
        result = []
        for index, name in enumerate(self.output_names()):
            edges = self.projection(self.scope, index)  # also warns about an unexpandable star
            if name == "*":
                continue
            merge(edges, shared)
            result.append((name, edges))
        return result

    # -- scopes ------------------------------------------------------------------------------
    def _selects(self, scope: Scope) -> list[exp.Expr]:
        expression = scope.expression
        while isinstance(expression, exp.SetOperation):
            expression = expression.left
        if isinstance(expression, exp.Subquery):
            expression = expression.unnest()
        return list(expression.selects) if isinstance(expression, exp.Query) else []

    def projection(self, scope: Scope, index: int) -> Edges:
        """Edges feeding projection ``index`` of ``scope`` (per-column only, without the scope's shared indirects)."""
        key = (id(scope), str(index))
        cached = self._projection_cache.get(key)
        if cached is not None:
            return {k: set(v) for k, v in cached.items()}
        self._projection_cache[key] = {}  # cycle guard (a recursive CTE reads itself)
        edges: Edges = {}
        if scope.set_operation_scopes:
            for branch in scope.set_operation_scopes:
                merge(edges, self.projection(branch, index))
                merge(edges, self.indirect(branch))
        else:
            selects = self._selects(scope)
            if index < len(selects):
                edges = self.expression_edges(scope, selects[index])
        self._projection_cache[key] = edges
        return {k: set(v) for k, v in edges.items()}

    def projection_by_name(self, scope: Scope, name: str) -> Edges | None:
        """Edges of the projection called ``name`` (case-insensitive), or None."""
        for i, select in enumerate(self._selects(scope)):
            if select.alias_or_name == name or select.alias_or_name.lower() == name.lower():
                return self.projection(scope, i)
        return None

    # -- expressions -------------------------------------------------------------------------
    def _direct_kind(
        self, column: exp.Column, root: exp.Expr
    ) -> tuple[TransformationType, str, bool]:
        """(type, subtype, masking) of a column occurrence inside a projection."""
        masking = False
        node: exp.Expr = column
        subtype = "IDENTITY"
        while node is not root and node.parent is not None:
            parent = node.parent
            if isinstance(parent, exp.Window):
                if node is parent.this:
                    pass
                else:  # partition by / order by of a window
                    return "INDIRECT", "WINDOW", masking
            if (
                isinstance(parent, exp.If | exp.Case)
                and node is parent.this
                and isinstance(parent, exp.If)
            ):
                return "INDIRECT", "CONDITIONAL", masking
            if isinstance(parent, exp.If) and node is parent.args.get("this"):
                return "INDIRECT", "CONDITIONAL", masking
            if isinstance(parent, exp.Case) and node is parent.this:
                return "INDIRECT", "CONDITIONAL", masking
            if isinstance(parent, exp.AggFunc) and not isinstance(parent, NAVIGATION_FUNCTIONS):
                subtype = "AGGREGATION"
            elif subtype != "AGGREGATION" and not isinstance(parent, exp.Alias | exp.Paren):
                subtype = "TRANSFORMATION"
            if (
                isinstance(parent, MASKING_EXPRESSIONS)
                or _function_name(parent) in MASKING_FUNCTIONS
            ):
                masking = True
            node = parent
        return "DIRECT", subtype, masking

    def expression_edges(self, scope: Scope, projection: exp.Expr) -> Edges:
        """Edges of one projection expression in ``scope``."""
        expr = projection.unalias() if isinstance(projection, exp.Alias) else projection
        description = expr.sql(dialect=self.dialect)
        edges: Edges = {}
        for column in projection.find_all(exp.Column):
            if _in_subquery(column, projection):
                continue
            kind, subtype, masking = self._direct_kind(column, projection)
            here = Transformation(
                kind, subtype, description if subtype != "IDENTITY" else "", masking
            )
            for source_field, inner in self.resolve(scope, column).items():
                for t in inner:
                    edges.setdefault(source_field, set()).add(compose(here, t))
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            self.warn(
                "cannot expand * without a schema for its tables; its columns are not traced",
                projection,
            )
        # scalar subqueries in the projection: their value flows (DIRECT), their filters are INDIRECT
        for sub in projection.find_all(exp.Subquery):
            child = next((s for s in scope.subquery_scopes if s.expression is sub.this), None)
            if child is None:
                continue
            here = Transformation("DIRECT", "TRANSFORMATION", description)
            for i in range(len(self._selects(child))):
                for f, ts in self.projection(child, i).items():
                    edges.setdefault(f, set()).update(compose(here, t) for t in ts)
            merge(edges, self.indirect(child))
        return edges

    def resolve(self, scope: Scope, column: exp.Column) -> Edges:
        """The base fields a column reference stands for, with the transformations leading to it."""
        table = column.table
        name = column.name
        if not table:
            if len(scope.sources) == 1:
                table = next(iter(scope.sources))
            else:
                # a reference to a projection alias (e.g. in ORDER BY) resolves to that projection
                for i, select in enumerate(self._selects(scope)):
                    if (
                        select.alias_or_name == name
                        and isinstance(select, exp.Alias)
                        and not _inside(column, select)
                    ):
                        return self.projection(scope, i)
                self.warn(
                    f"column {name!r} could not be resolved to a table (ambiguous or unknown; provide a schema)",
                    column,
                )
                return {}
        source = scope.sources.get(table)
        if source is None:
            if scope.parent is not None and table in scope.parent.sources:  # correlated reference
                return self.resolve(scope.parent, column)
            self.warn(f"column {table}.{name} refers to an unknown table alias {table!r}", column)
            return {}
        if isinstance(source, exp.Table):
            return {(self.dataset_of(source), name): {Transformation("DIRECT", "IDENTITY")}}
        if isinstance(source, Scope):
            source = self._canonical.get(id(source.expression), source)
            if source.scope_type == ScopeType.UDTF or isinstance(
                source.expression, exp.Unnest | exp.Lateral | exp.Explode
            ):
                return self._udtf(source, column)
            found = self.projection_by_name(source, name)
            if found is None:
                self.warn(f"{table} has no column {name!r}", column)
                return {}
            merge(found, self.indirect(source))
            return found
        return {}

    def _udtf(self, scope: Scope, column: exp.Column) -> Edges:
        """Columns produced by UNNEST / explode / LATERAL VIEW: derived from the array columns they read."""
        edges: Edges = {}
        parent = scope.parent or self.scope
        for col in scope.expression.find_all(exp.Column):
            for f, ts in self.resolve(parent, col).items():
                edges.setdefault(f, set()).update(
                    compose(
                        Transformation(
                            "DIRECT", "TRANSFORMATION", scope.expression.sql(dialect=self.dialect)
                        ),
                        t,
                    )
                    for t in ts
                )
        return edges

    # -- indirect ----------------------------------------------------------------------------
    def _columns_as(self, scope: Scope, nodes: Iterable[exp.Expr | None], subtype: str) -> Edges:
        edges: Edges = {}
        for node in nodes:
            if node is None:
                continue
            desc = node.sql(dialect=self.dialect)
            columns = [node] if isinstance(node, exp.Column) else list(node.find_all(exp.Column))
            for column in columns:
                if _in_subquery(column, node):
                    continue
                for f, ts in self.resolve(scope, column).items():
                    edges.setdefault(f, set()).update(
                        compose(Transformation("INDIRECT", subtype, desc), t) for t in ts
                    )
            for sub in node.find_all(exp.Query):
                child = next((s for s in scope.subquery_scopes if s.expression is sub), None)
                if child is not None:
                    for i in range(len(self._selects(child))):
                        for f, ts in self.projection(child, i).items():
                            edges.setdefault(f, set()).update(
                                compose(Transformation("INDIRECT", subtype, desc), t) for t in ts
                            )
                    merge(
                        edges,
                        {
                            f: {compose(Transformation("INDIRECT", subtype, desc), t) for t in ts}
                            for f, ts in self.indirect(child).items()
                        },
                    )
        return edges

    def indirect(self, scope: Scope) -> Edges:
        """INDIRECT edges that affect every row of ``scope``: joins, filters, grouping, sorting."""
        cached = self._indirect_cache.get(id(scope))
        if cached is not None:
            return {k: set(v) for k, v in cached.items()}
        self._indirect_cache[id(scope)] = {}  # cycle guard (recursive CTEs)
        edges: Edges = defaultdict(set)
        expression = scope.expression
        if scope.set_operation_scopes:
            for branch in scope.set_operation_scopes:
                merge(edges, self.indirect(branch))
        elif isinstance(expression, exp.Select):
            for join in expression.args.get("joins") or []:
                merge(edges, self._columns_as(scope, [join.args.get("on")], "JOIN"))
                for ident in join.args.get("using") or []:
                    for table in scope.sources:
                        merge(
                            edges, self._columns_as(scope, [exp.column(ident.name, table)], "JOIN")
                        )
            where = expression.args.get("where")
            merge(edges, self._columns_as(scope, [where.this] if where else [], "FILTER"))
            having = expression.args.get("having")
            merge(edges, self._columns_as(scope, [having.this] if having else [], "FILTER"))
            qualify = expression.args.get("qualify")
            merge(edges, self._columns_as(scope, [qualify.this] if qualify else [], "FILTER"))
            group = expression.args.get("group")
            if group is not None:
                keys = list(group.expressions)
                if group.args.get("all"):
                    keys = [s.unalias() for s in expression.selects if not s.find(exp.AggFunc)]
                merge(edges, self._columns_as(scope, keys, "GROUP_BY"))
            order = expression.args.get("order")
            if order is not None:
                merge(edges, self._columns_as(scope, [o.this for o in order.expressions], "SORT"))
            # filters and joins of the derived tables this scope reads from also decide its rows
            for source in scope.sources.values():
                if isinstance(source, Scope) and source.scope_type != ScopeType.UDTF:
                    merge(edges, self.indirect(self._canonical.get(id(source.expression), source)))
        result = dict(edges)
        self._indirect_cache[id(scope)] = result
        return {k: set(v) for k, v in result.items()}
