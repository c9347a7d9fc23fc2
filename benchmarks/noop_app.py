"""The HTTP ceiling for bench_api: a FastAPI app that accepts events and does nothing."""

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/api/v1/lineage", status_code=201)
async def lineage(request: Request) -> Response:
    await request.body()
    return Response(b'{"duplicate": false}', status_code=201, media_type="application/json")


@app.post("/api/v1/lineage/batch")
async def batch(request: Request) -> Response:
    await request.body()
    return Response(b'{"failed": 0}', media_type="application/json")


@app.get("/api/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
