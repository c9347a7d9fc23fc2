"""Iceberg tables through pyiceberg: read into Arrow, commit results, name datasets per OpenLineage.

Naming (OpenLineage's naming spec for Iceberg): the dataset is the table's
location (namespace = the location's scheme and authority, e.g. ``file``;
name = its path), with a ``symlinks`` facet to the catalog identifier
(``namespace = iceberg://<catalog name>``, ``name = db.table``, type TABLE).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from headwater import PRODUCER

SYMLINKS = (
    "https://openlineage.io/spec/facets/1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet"
)


class CatalogError(RuntimeError):
    """A catalog that cannot be opened or a table that cannot be read or written."""


@dataclass(frozen=True)
class Snapshot:
    """What a commit produced."""

    snapshot_id: int
    rows: int
    size: int
    files: int
    summary: dict[str, str]


def open_catalog(
    directory: Path | None = None, name: str = "headwater", **properties: str
) -> Catalog:
    """A pyiceberg catalog: the local SQL catalog under ``directory``, or any configured one.

    With ``properties`` (e.g. ``type=rest, uri=...``) or a ``~/.pyiceberg.yaml`` entry called ``name``,
    pyiceberg's ``load_catalog`` is used, so REST (Nessie, Polaris), Glue and Hive work by configuration.
    """
    try:
        if directory is not None and not properties:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "warehouse").mkdir(exist_ok=True)
            return SqlCatalog(
                name,
                uri=f"sqlite:///{(directory / 'catalog.db').resolve()}",
                warehouse=(directory / "warehouse").resolve().as_uri(),
            )
        return load_catalog(name, **properties)
    except Exception as exc:  # pyiceberg raises many types for an unreachable catalog
        msg = f"cannot open Iceberg catalog {name!r}: {exc}"
        raise CatalogError(msg) from exc


def table_exists(catalog: Catalog, identifier: str) -> bool:
    """Whether the catalog has ``identifier`` (``db.table``)."""
    try:
        catalog.load_table(identifier)
        return True
    except NoSuchTableError:
        return False


def read_table(catalog: Catalog, identifier: str, snapshot_id: int | None = None) -> pa.Table:
    """The table (or one snapshot of it) as Arrow."""
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        msg = f"table {identifier} does not exist in catalog {catalog.name!r}"
        raise CatalogError(msg) from None
    return table.scan(snapshot_id=snapshot_id).to_arrow()


def commit_table(
    catalog: Catalog, identifier: str, data: pa.Table, properties: dict[str, str]
) -> Snapshot:
    """Create or replace ``identifier`` with ``data`` and set ``properties`` in one commit.

    A table whose schema changed is dropped and recreated (a replace), so its old snapshots go;
    otherwise a new snapshot is added on top of the table's history.
    """
    namespace = identifier.rsplit(".", 1)[0]
    catalog.create_namespace_if_not_exists(namespace)
    try:
        table = catalog.load_table(identifier)
        if (
            not table.schema().as_arrow().equals(data.schema, check_metadata=False)
            and _names(table) != data.schema.names
        ):
            catalog.drop_table(identifier)
            table = catalog.create_table(identifier, schema=data.schema)
    except NoSuchTableError:
        table = catalog.create_table(identifier, schema=data.schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Delete operation did not match any records"
        with table.transaction() as tx:
            tx.overwrite(data)
            tx.set_properties(properties)
    table = catalog.load_table(identifier)
    return snapshot_of(table)


def _names(table: Table) -> list[str]:
    return [f.name for f in table.schema().fields]


def snapshot_of(table: Table) -> Snapshot:
    """The current snapshot's id and statistics."""
    snap = table.current_snapshot()
    if snap is None:
        return Snapshot(0, 0, 0, 0, {})
    summary = {
        k: str(v) for k, v in (snap.summary.additional_properties if snap.summary else {}).items()
    }
    return Snapshot(
        snapshot_id=snap.snapshot_id,
        rows=int(summary.get("total-records", 0)),
        size=int(summary.get("total-files-size", 0)),
        files=int(summary.get("total-data-files", 0)),
        summary=summary,
    )


def dataset_name(
    catalog: Catalog, identifier: str, table: Table | None = None
) -> tuple[str, str, dict[str, Any]]:
    """``(namespace, name, symlinks facet)`` of a table per OpenLineage naming (``table``: the
    already loaded table, to skip loading it again)."""
    table = table or catalog.load_table(identifier)
    location = urlparse(table.location())
    namespace = f"{location.scheme}://{location.netloc}" if location.netloc else location.scheme
    symlinks = {
        "_producer": PRODUCER,
        "_schemaURL": SYMLINKS,
        "identifiers": [
            {"namespace": f"iceberg://{catalog.name}", "name": identifier, "type": "TABLE"}
        ],
    }
    return namespace, location.path, symlinks


def schema_fields(
    catalog: Catalog, identifier: str, table: Table | None = None
) -> list[dict[str, str]]:
    """The table's columns as OpenLineage schema fields (``name``, ``type``)."""
    table = table or catalog.load_table(identifier)
    return [{"name": f.name, "type": str(f.field_type)} for f in table.schema().fields]


class IcebergReader:
    """Reads datasets named by a ``symlinks`` facet from an Iceberg catalog (for row-level tracing)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def read(self, dataset: dict[str, Any], snapshot: str | None) -> pa.Table:
        """Rows of ``dataset`` (a Marquez Dataset dict) at Iceberg ``snapshot`` (None: current)."""
        links = ((dataset.get("facets") or {}).get("symlinks") or {}).get("identifiers") or []
        identifier = next((i["name"] for i in links if i.get("type") == "TABLE"), None)
        if identifier is None:
            msg = f"dataset {dataset.get('name')} has no Iceberg table identifier (symlinks facet)"
            raise CatalogError(msg)
        return read_table(
            self.catalog, identifier, int(snapshot) if snapshot and snapshot.isdigit() else None
        )
