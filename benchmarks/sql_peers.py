"""Run peer SQL lineage tools on the corpus (executed by the peers' own venv; prints JSON).

Input on stdin: [{"id", "sql", "dialect"}]. Output: {tool: {case id: {"edges": [[out, "table.col"]], "ms": float} }}.
Kept free of Headwater imports: it runs in benchmarks/.venv-sqlpeers.
"""

import json
import statistics
import sys
import time

SQLLINEAGE_DIALECTS = {
    "duckdb": "duckdb",
    "spark": "sparksql",
    "postgres": "postgres",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "trino": "trino",
    "mysql": "mysql",
    "redshift": "redshift",
    "hive": "hive",
    "tsql": "tsql",
}


def _last(name: str) -> str:
    return str(name).split(".")[-1].strip('"`[]').lower()


def run_sqllineage(case):
    from sqllineage.runner import LineageRunner

    runner = LineageRunner(
        case["sql"], dialect=SQLLINEAGE_DIALECTS.get(case["dialect"], "ansi"), silent_mode=True
    )
    edges = set()
    for path in runner.get_column_lineage(exclude_subquery_columns=True):
        src, dst = path[0], path[-1]
        table = getattr(src.parent, "raw_name", None) or str(src.parent)
        edges.add((dst.raw_name.lower(), f"{_last(table)}.{src.raw_name.lower()}"))
    return edges


def run_openlineage_sql(case):
    import openlineage_sql

    meta = openlineage_sql.parse(
        [case["sql"]], dialect=case["dialect"] if case["dialect"] != "spark" else "sparksql"
    )
    edges = set()
    if meta is None:
        return edges
    for cl in meta.column_lineage:
        for src in cl.lineage:
            table = src.origin.name if src.origin else "?"
            edges.add((cl.descendant.name.lower(), f"{_last(table)}.{src.name.lower()}"))
    return edges


def run_datahub(case):
    from datahub.sql_parsing._models import _TableName
    from datahub.sql_parsing.schema_resolver import SchemaResolver
    from datahub.sql_parsing.sqlglot_lineage import sqlglot_lineage

    resolver = SchemaResolver(platform="postgres")
    for table, columns in _flat(case.get("schema") or {}).items():
        parts = table.split(".")
        name = _TableName(
            database=parts[-3] if len(parts) > 2 else None,
            db_schema=parts[-2] if len(parts) > 1 else None,
            table=parts[-1],
        )
        resolver.add_raw_schema_info(resolver.get_urn_for_table(name), dict(columns))
    result = sqlglot_lineage(case["sql"], resolver, override_dialect=case["dialect"])
    edges = set()
    for cl in result.column_lineage or []:
        for up in cl.upstreams:
            table = up.table.split(",")[1] if "," in up.table else up.table
            edges.add((cl.downstream.column.lower(), f"{_last(table)}.{up.column.lower()}"))
    return edges


def _flat(mapping, prefix=""):
    out = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}".strip('"')
        if value and all(isinstance(v, str) for v in value.values()):
            out[name] = value
        elif isinstance(value, dict):
            out.update(_flat(value, f"{name}."))
    return out


def main():
    cases = json.load(sys.stdin)
    out = {}
    tools = (
        (("datahub sqlglot_lineage", run_datahub),)
        if sys.argv[1:] == ["datahub"]
        else (("sqllineage", run_sqllineage), ("openlineage-sql", run_openlineage_sql))
    )
    for tool, fn in tools:
        results = {}
        for case in cases:
            times = []
            edges = set()
            for _ in range(3):
                start = time.perf_counter()
                try:
                    edges = fn(case)
                except Exception:
                    edges = set()
                times.append(time.perf_counter() - start)
            results[case["id"]] = {"edges": sorted(edges), "ms": statistics.median(times) * 1000}
        out[tool] = results
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
