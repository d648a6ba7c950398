"""The server: `create_app(settings)` builds the FastAPI app; no torch in this process."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import Histogram

from vidgen import __version__
from vidgen.studio.keys import KeyStore
from vidgen.studio.queue import open_queue
from vidgen.studio.server import errors
from vidgen.studio.server.deps import State
from vidgen.studio.server.routes import keys, models, ops, videos
from vidgen.studio.server.settings import Settings
from vidgen.studio.server.supervisor import Supervisor

WEB = Path(__file__).resolve().parents[1] / "web"
LATENCY = Histogram(
    "vidgen_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)


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
    for r in (videos.router, models.router, keys.router, ops.router):
        app.include_router(r)

    @app.middleware("http")
    async def timing(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        LATENCY.labels(request.method, route, response.status_code).observe(
            time.perf_counter() - t0
        )
        return response

    @app.get("/", include_in_schema=False)
    def studio():
        return FileResponse(WEB / "index.html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app
