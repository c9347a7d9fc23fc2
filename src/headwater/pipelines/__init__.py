"""Pipelines: declared SQL steps run on DuckDB over Iceberg, with lineage captured automatically.

The runner (DuckDB, pyiceberg, the OpenLineage client) is imported on first use of its names,
so that reading a pipeline's spec, or a CLI command that only parses one, stays quick to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from headwater.pipelines.spec import REFERENCE, Pipeline, PipelineError, load_pipeline

if TYPE_CHECKING:
    from headwater.pipelines.runner import PipelineResult, Runner, StepFailed

__all__ = [
    "REFERENCE",
    "Pipeline",
    "PipelineError",
    "PipelineResult",
    "Runner",
    "StepFailed",
    "load_pipeline",
]
_RUNNER_NAMES = frozenset({"PipelineResult", "Runner", "StepFailed"})


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        return getattr(importlib.import_module("headwater.pipelines.runner"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
