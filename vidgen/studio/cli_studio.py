"""`vidgen serve`, `vidgen worker` and `vidgen keys create|list|revoke`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vidgen import precision as precisions
from vidgen.studio.cli import _fail, app, keys_app

Data = Annotated[Path, typer.Option("--data", help="data directory (jobs, keys, videos)")]
PRECISION_HELP = "auto (bfloat16 where the CPU has it natively), bfloat16 or float32"
COMPILE_HELP = "compile the transformer as a worker starts (about 30 s once; faster jobs)"


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port", min=1, max=65535)] = 8000,
    data: Data = Path("data"),
    workers: Annotated[int, typer.Option(help="worker processes to run", min=0, max=64)] = 1,
    redis: Annotated[
        str | None, typer.Option(help="redis://HOST:PORT/DB: jobs go through Redis")
    ] = None,
    model: Annotated[str, typer.Option(help="model name under models/ or a directory")] = "default",
    precision: Annotated[str, typer.Option(help=f"workers' {PRECISION_HELP}")] = "auto",
    compile: Annotated[bool, typer.Option("--compile", help=COMPILE_HELP)] = False,
) -> None:
    """The OpenAI-compatible video API, the web studio at /, and N workers."""
    import uvicorn

    from vidgen.studio.keys import KeyStore
    from vidgen.studio.logs import setup_logging
    from vidgen.studio.server.app import create_app
    from vidgen.studio.server.settings import Settings

    try:
        precisions.check(precision, "--precision")
    except ValueError as e:
        _fail(str(e))
    setup_logging()
    settings = Settings(data=data, model=model, redis=redis, workers=workers,
                        worker_precision=precision, worker_compile=compile)  # fmt: skip
    keys = KeyStore(data)
    if not keys.list():  # first run: a key for the studio, shown once
        _, secret = keys.create("studio", admin=True)
        typer.echo(f"first run: created an admin key for the studio: {secret}")
        typer.echo(f"open http://{host}:{port}/#key={secret}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=int(settings.grace_s) + 15)  # fmt: skip


@app.command("worker")
def worker_cmd(
    data: Data = Path("data"),
    redis: Annotated[
        str | None, typer.Option(help="redis://HOST:PORT/DB of the server's queue")
    ] = None,
    model: Annotated[str, typer.Option(help="model name under models/ or a directory")] = "default",
    worker_id: Annotated[
        str | None, typer.Option("--id", help="worker id (default: host-pid)")
    ] = None,
    precision: Annotated[str, typer.Option(help=PRECISION_HELP)] = "auto",
    grace: Annotated[
        float, typer.Option(help="seconds a job may take to finish on SIGTERM")
    ] = 30.0,
    lease: Annotated[float, typer.Option(help="heartbeat lease in seconds", min=1)] = 20.0,
    compile: Annotated[bool, typer.Option("--compile", help=COMPILE_HELP)] = False,
) -> None:
    """Run jobs from the queue (SQLite in --data, or Redis) until SIGTERM."""
    import signal

    from vidgen.studio.logs import setup_logging
    from vidgen.studio.worker import Worker

    setup_logging()
    try:
        worker = Worker(data, model, redis, lease, grace, precision, compile)
    except Exception as e:  # an unreachable Redis, an unreadable data directory
        _fail(f"cannot start the worker: {e}")
    if worker_id:
        worker.id = worker_id
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    try:
        worker.load()
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    worker.run()


@keys_app.command("create")
def keys_create(
    data: Data = Path("data"),
    name: Annotated[str, typer.Option(help="a name to recognise the key by")] = "default",
    admin: Annotated[bool, typer.Option("--admin", help="may manage keys over the API")] = False,
    quota: Annotated[float, typer.Option(help="seconds of video per day", min=0)] = 600.0,
) -> None:
    """Make an API key; the secret is printed on the last line, once."""
    from vidgen.studio.keys import KeyStore

    try:
        key, secret = KeyStore(data).create(name, admin, quota)
    except ValueError as e:
        _fail(str(e))
    typer.echo(f"created {key.id} ({key.name}{', admin' if admin else ''}, {quota:g} s/day)")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(data: Data = Path("data")) -> None:
    """Every key: id, name, admin, quota, and whether it is revoked (never the secret)."""
    from vidgen.studio.keys import KeyStore

    for key in KeyStore(data).list():
        typer.echo(json.dumps(key.public()))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (key_...)")],
    data: Data = Path("data"),
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from vidgen.studio.keys import KeyStore

    if not KeyStore(data).revoke(key_id):
        _fail(f"key_id: no live key {key_id!r} in {data}")
    typer.echo(f"revoked {key_id}")
