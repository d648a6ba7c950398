"""The server: `create_app(settings)` builds the FastAPI app; no torch in this process."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import Histogram

from vidgen import __version__
from vidgen.studio.keys import KeyStore
from vidgen.studio.queue import open_queue
from vidgen.studio.server import errors
from vidgen.studio.server.deps import State
from vidgen.studio.server.routes import keys, models, ops, verify, videos
from vidgen.studio.server.settings import Settings
from vidgen.studio.server.supervisor import Supervisor

WEB = Path(__file__).resolve().parents[1] / "web"
LATENCY = Histogram(
    "vidgen_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 10),
)


class Timing:
    """Request latency per route into /metrics; plain ASGI (Starlette's BaseHTTPMiddleware
    re-streams every request body and cost more than the route itself)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(scope["method"], route, status[0]).observe(time.perf_counter() - t0)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.data.mkdir(parents=True, exist_ok=True)
    queue = open_queue(settings.data, settings.redis)
    state = State(settings, queue, KeyStore(settings.data))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from vidgen.policy import check

        await to_thread.run_sync(check, "a red ball")  # load the content policy before serving
        sup = Supervisor(settings, queue) if settings.workers > 0 else None
        if sup:
            sup.start()
        yield
        if sup:  # graceful shutdown: running jobs finish or go back to the queue
            sup.stop()

    app = FastAPI(
        title="vidgen",
        version=__version__,
        description="OpenAI-compatible video generation API, served by vidgen.",
        lifespan=lifespan,
    )
    app.state.vidgen = state
    errors.install(app)
    for r in (videos.router, models.router, keys.router, verify.router, ops.router):
        app.include_router(r)

    app.add_middleware(Timing)

    @app.get("/", include_in_schema=False)
    def studio():
        return FileResponse(WEB / "index.html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app
