"""Pipeline files: parameters, sources, ordered SQL steps, checks and table properties.

A pipeline is YAML (or the same structure built in Python with :class:`Pipeline`).
Parameters are substituted into every string as ``${name}`` (``$${`` escapes a
literal ``${``); ``--param key=value`` overrides a default, and an unknown key
is an error. See ``docs/pipelines.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REFERENCE = Path(__file__).parent / "reference" / "retail.yaml"
_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PipelineError(ValueError):
    """A pipeline file or parameter that cannot be used; the message names the pipeline and the cause."""


@dataclass(frozen=True)
class Check:
    """A quality check on a step's output: ``kind`` is not_null, unique, accepted_values, range, row_count or sql."""

    kind: str
    column: str | None = None
    expression: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How the check is reported (the OpenLineage assertion name)."""
        if self.kind == "sql":
            return str(self.expression)
        return f"{self.kind}({self.column})" if self.column else self.kind


@dataclass(frozen=True)
class Source:
    """A source table, generated for demos or expected to exist in the catalog."""

    table: str
    generator: str | None
    rows: int
    properties: Mapping[str, str]


@dataclass(frozen=True)
class Step:
    """One SQL transformation: a SELECT whose result replaces ``target``."""

    job: str
    target: str
    sql: str
    owner: str | None = None
    description: str | None = None
    business_logic: str | None = None
    refresh_frequency: str | None = None
    transformation: str | None = None
    quality_checks: str | None = None
    checks: tuple[Check, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """A resolved pipeline (parameters already substituted)."""

    name: str
    namespace: str
    description: str
    owner: str | None
    parameters: Mapping[str, Any]
    sources: tuple[Source, ...]
    steps: tuple[Step, ...]
    path: Path | None = None

    @property
    def database(self) -> str:
        """The Iceberg namespace the tables live in."""
        return str(self.parameters.get("database_name", "default"))

    def flag(self, name: str) -> bool:
        """A boolean parameter (``true/false/1/0/yes/no``)."""
        return str(self.parameters.get(name, "false")).strip().lower() in ("1", "true", "yes", "on")


def _substitute(value: Any, params: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in params:
                msg = f"{where}: unknown parameter ${{{key}}}"
                raise PipelineError(msg)
            return str(params[key])

        return _PARAM.sub(repl, value.replace("$${", "\x00")).replace("\x00", "${")
    if isinstance(value, list):
        return [_substitute(v, params, where) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params, where) for k, v in value.items()}
    return value


def _check(raw: Any, where: str) -> Check:
    if not isinstance(raw, dict) or len(raw) != 1:
        msg = f"{where}: a check is one of {{not_null: col}}, {{unique: col}}, {{sql: expr}}, {{row_count: {{min, max}}}}, {{range: {{column, min, max}}}}, {{accepted_values: {{column, values}}}}, {{freshness: {{column, max_age}}}}, {{references: {{column, table, field}}}}"
        raise PipelineError(msg)
    kind, arg = next(iter(raw.items()))
    if kind in ("not_null", "unique"):
        return Check(kind, column=str(arg))
    if kind == "sql":
        return Check(kind, expression=str(arg))
    if kind in ("row_count", "range", "accepted_values", "freshness", "references") and isinstance(
        arg, dict
    ):
        if kind == "references" and not arg.get("table"):
            msg = f"{where}: a references check needs {{column, table, field}}"
            raise PipelineError(msg)
        if kind == "freshness":
            from headwater.pipelines.checks import parse_age

            try:
                parse_age(str(arg.get("max_age", "1d")))
            except ValueError as exc:
                msg = f"{where}: freshness max_age {exc}"
                raise PipelineError(msg) from None
        return Check(kind, column=arg.get("column"), options=arg)
    msg = f"{where}: unknown check {kind!r}"
    raise PipelineError(msg)


def _integer(value: Any, what: str) -> int:
    try:
        return int(str(value).replace("_", ""))
    except ValueError:
        msg = f"{what} must be an integer, got {value!r}"
        raise PipelineError(msg) from None


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` from the command line."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            msg = f"--param {pair!r} must look like key=value"
            raise PipelineError(msg)
        params[key.strip()] = value
    return params


def load_pipeline(
    source: Path | str | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> Pipeline:
    """Read a pipeline from a YAML file (or a mapping) and apply parameter overrides.

    Raises:
        PipelineError: unreadable file, unknown parameter, missing field.
    """
    path: Path | None = None
    if isinstance(source, Mapping):
        raw = dict(source)
    else:
        path = Path(source)
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as exc:
            msg = f"cannot read pipeline {path}: {exc.strerror}"
            raise PipelineError(msg) from None
        except yaml.YAMLError as exc:
            msg = f"pipeline {path} is not valid YAML: {exc}"
            raise PipelineError(msg) from None
    if not isinstance(raw, dict) or "name" not in raw or "steps" not in raw:
        msg = f"pipeline {path or '<mapping>'} needs at least 'name' and 'steps'"
        raise PipelineError(msg)
    name = str(raw["name"])
    params = dict(raw.get("parameters") or {})
    for key, value in (overrides or {}).items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            msg = f"pipeline {name}: unknown parameter {key!r} (known: {known})"
            raise PipelineError(msg)
        params[key] = value
    resolved = _substitute(
        {k: v for k, v in raw.items() if k != "parameters"}, params, f"pipeline {name}"
    )
    sources = tuple(
        Source(
            table=str(s["table"]),
            generator=s.get("generator"),
            rows=_integer(s.get("rows", 0), f"pipeline {name}, source {s.get('table')}: rows"),
            properties={k: str(v) for k, v in (s.get("properties") or {}).items()},
        )
        for s in resolved.get("sources") or []
    )
    if "seed" in params:
        _integer(params["seed"], f"pipeline {name}: parameter seed")
    steps = []
    for i, s in enumerate(resolved["steps"]):
        where = f"pipeline {name}, step {i + 1}"
        if not isinstance(s, dict) or not s.get("sql") or not s.get("target") or not s.get("job"):
            msg = f"{where}: a step needs 'job', 'target' and 'sql'"
            raise PipelineError(msg)
        steps.append(
            Step(
                job=str(s["job"]),
                target=str(s["target"]),
                sql=str(s["sql"]).strip().rstrip(";"),
                owner=s.get("owner"),
                description=s.get("description"),
                business_logic=s.get("business_logic"),
                refresh_frequency=s.get("refresh_frequency"),
                transformation=s.get("transformation"),
                quality_checks=s.get("quality_checks"),
                checks=tuple(_check(c, f"{where} ({s['job']})") for c in s.get("checks") or []),
                properties={k: str(v) for k, v in (s.get("properties") or {}).items()},
            )
        )
    return Pipeline(
        name=name,
        namespace=str(resolved.get("namespace") or "headwater"),
        description=str(resolved.get("description") or ""),
        owner=resolved.get("owner"),
        parameters=params,
        sources=sources,
        steps=tuple(steps),
        path=path,
    )
