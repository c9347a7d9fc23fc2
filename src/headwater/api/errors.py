"""Error answers: always JSON ``{"code", "message", ...}``, never an HTML page or a 500 for bad input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from headwater.model.events import EventParseError, EventValidationError
from headwater.model.nodes import InvalidNodeId
from headwater.store.base import NotFound


class BadParameter(ValueError):
    """A query or path parameter the API cannot use: a 400 (or ``status``) naming it."""

    def __init__(self, param: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def error(status: int, message: str, **extra: object) -> JSONResponse:
    """A JSON error body in Marquez's shape (``code``, ``message``) plus details."""
    return JSONResponse({"code": status, "message": message, **extra}, status_code=status)


def install(app: FastAPI) -> None:
    """Map domain errors to HTTP answers."""

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(BadParameter)
    async def _bad_param(_: Request, exc: BadParameter) -> JSONResponse:
        return error(exc.status, str(exc), param=exc.param)

    @app.exception_handler(InvalidNodeId)
    async def _bad_node(_: Request, exc: InvalidNodeId) -> JSONResponse:
        return error(400, str(exc), param="nodeId")

    @app.exception_handler(EventParseError)
    async def _bad_json(_: Request, exc: EventParseError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(EventValidationError)
    async def _invalid(_: Request, exc: EventValidationError) -> JSONResponse:
        return error(422, str(exc), path=exc.path, reason=exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _bad_params(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "param": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                "reason": e["msg"],
            }
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"param": "?", "reason": "invalid"}
        return error(
            400,
            f"invalid parameter {first['param']}: {first['reason']}",
            param=first["param"],
            errors=problems,
        )
