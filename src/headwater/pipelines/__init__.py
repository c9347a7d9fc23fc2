"""Pipelines: declared SQL steps run on DuckDB over Iceberg, with lineage captured automatically."""

from headwater.pipelines.runner import PipelineResult, Runner, StepFailed
from headwater.pipelines.spec import REFERENCE, Pipeline, PipelineError, load_pipeline

__all__ = [
    "REFERENCE",
    "Pipeline",
    "PipelineError",
    "PipelineResult",
    "Runner",
    "StepFailed",
    "load_pipeline",
]
