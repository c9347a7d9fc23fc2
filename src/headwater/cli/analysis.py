"""``headwater impact`` and ``headwater audit verify``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from headwater.analysis import impact, resolve_node
from headwater.cli.common import (
    ApiKeyOption,
    DbOption,
    UrlOption,
    console,
    fail,
    friendly_errors,
    print_json,
)
from headwater.client import HttpReader
from headwater.model.events import parse_time
from headwater.model.nodes import DatasetId
from headwater.store import open_store

audit_app = typer.Typer(help="Audit trail of the lineage event log.")


class ChangeKind(StrEnum):
    drop = "drop"
    type = "type"
    rename = "rename"


class Format(StrEnum):
    table = "table"
    json = "json"


def _render(report: dict[str, Any]) -> None:
    console.print(f"[bold]{report['verdict']}[/]")
    rows = report["breaking"] if report["change"] else report["affected"]
    if rows:
        table = Table(title="breaks" if report["change"] else "downstream", title_justify="left")
        for col in ("depth", "dataset", "column", "use", "via jobs", "transformation chain"):
            table.add_column(col, overflow="fold")
        for a in rows:
            dataset = a["dataset"].rstrip("/").rsplit("/", 1)[-1]
            table.add_row(
                str(a["depth"]),
                dataset,
                a["field"] or "",
                a["kind"],
                ", ".join(a["jobs"]),
                a["chain"],
            )
        console.print(table)
    if report["owners"]:
        owners = Table(title="owners to notify", title_justify="left")
        owners.add_column("owner")
        owners.add_column("of", overflow="fold")
        for owner, items in report["owners"].items():
            owners.add_row(owner, ", ".join(items))
        console.print(owners)


@friendly_errors
def impact_cmd(
    node: Annotated[
        str,
        typer.Argument(help="A dataset or column: node id, or a name like products_source.cost."),
    ],
    change: Annotated[
        ChangeKind | None,
        typer.Option("--change", help="Verdict for a change: drop, type or rename."),
    ] = None,
    depth: Annotated[int, typer.Option(min=1, max=100, help="Jobs downstream to follow.")] = 20,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="ISO time: impact on the graph as it was then."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """What depends on a dataset or column, and what dropping, retyping or renaming it breaks."""
    if url:
        reader = HttpReader(url, api_key)
        params: dict[str, Any] = {"nodeId": node, "depth": depth}
        if change:
            params["change"] = change.value
        if as_of:
            params["asOf"] = as_of
        report = reader._get("/api/v1/headwater/impact", **params)
    else:
        store = open_store(db)
        when = parse_time(as_of, "--as-of", []) if as_of else None
        report = impact(
            store, resolve_node(store, node), depth, change.value if change else None, when
        ).to_json()
    if fmt is Format.json:
        print_json(report)
    else:
        _render(report)


@friendly_errors
def trace_cmd(
    dataset: Annotated[str, typer.Argument(help="The dataset with bad rows: node id or name.")],
    where: Annotated[
        str | None,
        typer.Option("--where", help='Which rows are bad, as SQL: "total_profit < 0".'),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key", help="Bad rows by key, column=value (repeatable; ANDed with --where)."
        ),
    ] = None,
    catalog_dir: Annotated[
        Path, typer.Option("--catalog-dir", help="Iceberg SQL catalog directory holding the data.")
    ] = Path("./headwater-catalog"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="ISO time: trace the data and runs as they were then."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Trace bad rows upstream to the source rows that produced them, and name the root cause found in the data."""
    from headwater.analysis.trace import TraceError, bad_rows_condition, trace
    from headwater.capture.iceberg import CatalogError, IcebergReader, open_catalog

    try:
        where = bad_rows_condition(where, key or [])
    except TraceError as exc:
        raise fail(str(exc)) from None
    if url:  # the server reads the data through its own catalog
        params = {"dataset": dataset, "where": where, **({"asOf": as_of} if as_of else {})}
        report = HttpReader(url, api_key)._get("/api/v1/headwater/trace", **params)
    else:
        if not (catalog_dir / "catalog.db").exists():
            raise fail(f"no Iceberg catalog at {catalog_dir}; pass --catalog-dir")
        store = open_store(db)
        node = resolve_node(store, dataset)
        if not isinstance(node, DatasetId):
            raise fail("trace takes a dataset; put the column in --where")
        try:
            when = parse_time(as_of, "--as-of", []) if as_of else None
            reader = IcebergReader(open_catalog(catalog_dir))
            report = trace(store, reader, node, where, when).to_json()
        except (TraceError, CatalogError) as exc:
            raise fail(str(exc)) from None
    if fmt is Format.json:
        print_json(report)
        return
    _render_trace(report)


def _render_trace(report: dict[str, Any]) -> None:
    console.print(
        f"[bold]{report['badRows']}[/] rows of {report['dataset']} match {report['where']}"
    )
    table = Table(
        title="contributing rows, hop by hop (from the snapshots each run read)",
        title_justify="left",
    )
    for col in ("dataset", "rows", "of", "via job", "note"):
        table.add_column(col, overflow="fold")
    for hop in report["hops"]:
        table.add_row(
            hop["dataset"], str(hop["rows"]), str(hop["total"]), hop["job"] or "", hop["note"] or ""
        )
    console.print(table)
    for cause in report["rootCauses"] or [
        "no single condition on the source columns explains these rows"
    ]:
        console.print(f"[bold red]{cause}[/]" if cause.startswith("root cause") else cause)


@friendly_errors
def check_cmd(
    table: Annotated[str, typer.Argument(help="Iceberg table identifier, db.table.")],
    not_null: Annotated[
        list[str] | None,
        typer.Option("--not-null", help="Column that must have no nulls (repeatable)."),
    ] = None,
    unique: Annotated[
        list[str] | None,
        typer.Option("--unique", help="Column whose values must be unique (repeatable)."),
    ] = None,
    sql: Annotated[
        list[str] | None,
        typer.Option(
            "--sql", help='Condition every row must meet, e.g. "total_revenue > 0" (repeatable).'
        ),
    ] = None,
    fresh: Annotated[
        list[str] | None,
        typer.Option(
            "--fresh", help="COLUMN=AGE: the newest value is at most AGE old, e.g. order_date=2d."
        ),
    ] = None,
    references: Annotated[
        list[str] | None,
        typer.Option(
            "--references",
            help="COLUMN=TABLE.FIELD: every value exists in another table (referential integrity).",
        ),
    ] = None,
    min_rows: Annotated[int | None, typer.Option("--min-rows", help="Fewest rows allowed.")] = None,
    max_rows: Annotated[int | None, typer.Option("--max-rows", help="Most rows allowed.")] = None,
    catalog_dir: Annotated[
        Path, typer.Option("--catalog-dir", help="Iceberg SQL catalog directory.")
    ] = Path("./headwater-catalog"),
    db: DbOption = None,
) -> None:
    """Run data-quality checks on an Iceberg table now and record them as OpenLineage dataQualityAssertions."""
    from headwater.capture.iceberg import (
        CatalogError,
        dataset_name,
        open_catalog,
        read_table,
        schema_fields,
    )
    from headwater.capture.quality import emit_check_run
    from headwater.capture.transport import flush, make_client
    from headwater.pipelines.checks import column_metrics, parse_age, run_checks
    from headwater.pipelines.spec import Check

    checks = [Check("not_null", column=c) for c in not_null or []] + [
        Check("unique", column=c) for c in unique or []
    ]
    checks += [Check("sql", expression=e) for e in sql or []]
    for spec in fresh or []:
        column, _, age = spec.partition("=")
        try:
            parse_age(age)
        except ValueError as exc:
            raise fail(f"--fresh {spec!r}: {exc}") from None
        checks.append(Check("freshness", column=column, options={"max_age": age}))
    for spec in references or []:
        column, _, target = spec.partition("=")
        ref_table, _, field = target.rpartition(".")
        if not column or not ref_table or not field:
            raise fail(f"--references {spec!r} must look like customer_id=db.customers.customer_id")
        checks.append(
            Check("references", column=column, options={"table": ref_table, "field": field})
        )
    if min_rows is not None or max_rows is not None:
        checks.append(Check("row_count", options={"min": min_rows, "max": max_rows}))
    if not checks:
        raise fail(
            "give at least one check: --not-null, --unique, --sql, --fresh, --references, --min-rows or --max-rows"
        )
    if not (catalog_dir / "catalog.db").exists():
        raise fail(f"no Iceberg catalog at {catalog_dir}; pass --catalog-dir")
    try:
        catalog = open_catalog(catalog_dir)
        data = read_table(catalog, table)
        known = {f["name"] for f in schema_fields(catalog, table)}
        missing = sorted({c.column for c in checks if c.column and c.column not in known})
        if missing:
            raise fail(f"{table} has no column {', '.join(missing)}")
        results = run_checks(table, data, tuple(checks), lambda t: read_table(catalog, t))
        ns, name, symlinks = dataset_name(catalog, table)
    except (CatalogError, ValueError) as exc:
        raise fail(str(exc)) from None
    client = make_client(open_store(db))
    emit_check_run(
        client,
        "headwater",
        f"adhoc_checks.{table}",
        (ns, name, {"symlinks": symlinks}),
        results,
        metrics=column_metrics(data, results),
    )
    flush(client)
    out = Table(title=f"checks on {table} ({data.num_rows} rows)", title_justify="left")
    for col in ("check", "result", "detail"):
        out.add_column(col, overflow="fold")
    for r in results:
        out.add_row(r.check, "[green]passed[/]" if r.success else "[bold red]FAILED[/]", r.detail)
    console.print(out)
    if not all(r.success for r in results):
        raise typer.Exit(1)


@friendly_errors
def diff_cmd(
    start: Annotated[str, typer.Option("--from", help="ISO time of the earlier graph.")],
    end: Annotated[
        str | None, typer.Option("--to", help="ISO time of the later graph (default now).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    db: DbOption = None,
) -> None:
    """What changed in the lineage between two times: edges, column lineage, SQL, schemas."""
    from headwater.analysis.diff import diff
    from headwater.model.events import parse_time

    report = diff(
        open_store(db),
        parse_time(start, "--from", []),
        parse_time(end, "--to", []) if end else None,
    )
    if fmt is Format.json:
        print_json(report.to_json())
        return
    if report.empty:
        console.print(f"no lineage changes between {report.start} and {report.end or 'now'}")
        return
    for title, items, mark in (
        ("edges added", report.edges_added, "[green]+[/]"),
        ("edges removed", report.edges_removed, "[red]-[/]"),
        ("column lineage added", report.columns_added, "[green]+[/]"),
        ("column lineage removed", report.columns_removed, "[red]-[/]"),
    ):
        if items:
            console.print(f"[bold]{title}[/]")
            for item in items:
                console.print(f"  {mark} {item}", highlight=False)
    for dataset, change in report.schema_changes.items():
        console.print(
            f"[bold]schema of {dataset}[/]: added {', '.join(change['added']) or '-'}; removed {', '.join(change['removed']) or '-'}"
        )
    for job, text in report.sql_changes.items():
        console.print(f"[bold]SQL of {job} changed[/]")
        console.print(text, highlight=False, markup=False)


@audit_app.callback(invoke_without_command=True)
@friendly_errors
def audit_cmd(
    ctx: typer.Context,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", help="Only runs reading or writing this dataset (name or NS:NAME)."
        ),
    ] = None,
    job: Annotated[
        str | None, typer.Option("--job", help="Only runs of this job (name or NS:NAME).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only runs by this actor.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO time: runs from then on.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO time: runs up to then.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    db: DbOption = None,
) -> None:
    """The audit trail: who ran what, when, where, why, on which data."""
    if ctx.invoked_subcommand is not None:
        return
    from headwater.analysis.audit import audit_trail
    from headwater.model.events import parse_time

    window = [
        parse_time(t, name, []) if t else None
        for t, name in ((since, "--since"), (until, "--until"))
    ]
    entries = audit_trail(open_store(db), dataset, job, actor, window[0], window[1])
    if fmt is Format.json:
        print_json([e.to_json() for e in entries])
        return
    table = Table(title=f"{len(entries)} runs", title_justify="left")
    for col in ("when", "job", "state", "who", "where", "why", "inputs -> outputs"):
        table.add_column(col, overflow="fold")
    for e in entries:
        where = " / ".join(x for x in (e.host, e.environment, e.engine) if x)
        flow = (
            ", ".join(_short_ds(i) for i in e.inputs)
            + " -> "
            + ", ".join(_short_ds(o) for o in e.outputs)
        )
        table.add_row(
            e.started or e.ended or "",
            e.job.split(":", 1)[-1],
            e.state,
            e.actor or "",
            where,
            e.purpose or "",
            flow,
        )
    console.print(table)


def _short_ds(name: str) -> str:
    bare, _, version = name.partition("@")
    short = bare.rstrip("/").rsplit("/", 1)[-1].split(":")[-1]
    return f"{short}@{version}" if version else short


@friendly_errors
def retention_cmd(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of the events to prune, e.g. 90d, 12h, 30m.")
    ],
    yes: Annotated[
        bool, typer.Option("--yes", help="Really delete (otherwise only count).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Retention: drop the bodies of old events; lineage and a verifiable hash chain stay."""
    from datetime import UTC, datetime

    from headwater.pipelines.checks import parse_age

    try:
        cutoff = datetime.now(UTC) - parse_age(older_than)
    except ValueError as exc:
        raise fail(f"--older-than {exc}") from None
    store = open_store(db)
    if not yes:
        count = store.list_events(before=cutoff, limit=0)[1]
        console.print(
            f"{count} events older than {cutoff.isoformat()} would be pruned; run again with --yes to do it",
            soft_wrap=True,
        )
        return
    pruned = store.prune_events(cutoff)
    console.print(
        f"pruned the bodies of {pruned} events older than {cutoff.isoformat()}; lineage and the hash chain are kept",
        soft_wrap=True,
    )


@audit_app.command("verify")
@friendly_errors
def verify(db: DbOption = None) -> None:
    """Recompute the event log's hash chain; report the first altered, missing or reordered event."""
    from headwater.store.audit import verify_chain

    report = verify_chain(open_store(db))
    if report.ok:
        pruned = (
            f" ({report.pruned} pruned by retention: linked by their stored hashes)"
            if report.pruned
            else ""
        )
        console.print(
            f"[green]chain verified[/]: {report.checked} events, none altered, missing or reordered{pruned}",
            soft_wrap=True,
        )
        return
    where = "" if report.first_bad_id is None else f" at event {report.first_bad_id}"
    raise fail(f"chain broken{where} ({report.checked} checked): {report.reason}")


compliance_app = typer.Typer(help="Compliance: where personal data flows.", no_args_is_help=True)


@compliance_app.command("pii")
@friendly_errors
def pii_cmd(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    db: DbOption = None,
) -> None:
    """Every column that holds PII, where it came from and the path it came by."""
    from headwater.analysis.compliance import pii_flow

    columns, stops = pii_flow(open_store(db))
    if fmt is Format.json:
        print_json({"columns": [c.to_json() for c in columns], "maskedAt": stops})
        return
    table = Table(title=f"{len(columns)} columns hold PII", title_justify="left")
    for col in ("dataset", "column", "origin", "path"):
        table.add_column(col, overflow="fold")
    for c in columns:
        table.add_row(
            c.dataset.name.rstrip("/").rsplit("/", 1)[-1],
            c.field,
            "tagged" if c.tagged else c.origin,
            c.path,
        )
    console.print(table)
    for stop in stops:
        console.print(f"[green]stopped[/] {stop}")


class ReportFormat(StrEnum):
    markdown = "markdown"
    csv = "csv"
    json = "json"


@compliance_app.command("report")
@friendly_errors
def report_cmd(
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ReportFormat.markdown,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")
    ] = None,
    db: DbOption = None,
) -> None:
    """A record of processing activities: jobs touching PII, their purpose, data, owners, last run."""
    import json as json_module
    import sys

    from headwater.analysis.compliance import processing_activities, report_csv, report_markdown

    activities = processing_activities(open_store(db))
    if fmt is ReportFormat.json:
        text = json_module.dumps([a.to_json() for a in activities], indent=2) + "\n"
    elif fmt is ReportFormat.csv:
        text = report_csv(activities)
    else:
        text = report_markdown(activities)
    if output:
        output.write_text(text)
        console.print(f"wrote {len(activities)} processing activities to {output}")
    else:
        sys.stdout.write(text)


@friendly_errors
def tag_cmd(
    tag: Annotated[str, typer.Argument(help="The tag, e.g. pii.")],
    node: Annotated[
        str,
        typer.Argument(help="A dataset or column: node id or a name like customers_source.email."),
    ],
    description: Annotated[
        str | None, typer.Option("--description", help="What the tag means.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Tag a dataset or a column (tags drive PII propagation)."""
    from headwater.model.nodes import FieldId

    store = open_store(db)
    target = resolve_node(store, node)
    if isinstance(target, FieldId):
        store.tag(tag, target.dataset, target.field, description)
        console.print(f"tagged {target.dataset.name}.{target.field} with {tag}")
    elif isinstance(target, DatasetId):
        store.tag(tag, target, None, description)
        console.print(f"tagged {target.name} with {tag}")
    else:
        raise fail("only datasets and columns can be tagged")


def register(app: typer.Typer) -> None:
    """Add ``impact``, ``trace``, ``audit``, ``compliance`` and ``tag``."""
    app.command("impact")(impact_cmd)
    app.command("trace")(trace_cmd)
    app.command("tag")(tag_cmd)
    app.command("check")(check_cmd)
    app.command("retention")(retention_cmd)
    app.command("diff")(diff_cmd)
    app.add_typer(compliance_app, name="compliance")
    app.add_typer(audit_app, name="audit")
