"""API load: N concurrent creates through the official openai SDK while the worker generates.

    python bench/api_load.py [--n 200] [--model default]

Starts `vidgen serve` (SQLite queue, one worker) on a free port, fires N creates at once with
the async SDK, polls every video to completion, and prints one JSON object: submitted,
completed, p50/p99 of create and retrieve latency as the client sees it (ms; the client shares
the CPU), the server's own p99 per route from /metrics (interpolated within its histogram
bucket, as Prometheus' histogram_quantile does), and the wall time.

The reference in the same run: the same N creates through the same SDK client against a null
server (a raw asyncio server that answers every request at once with a canned video object),
`null_p99_create_ms`. That is the client's own cost (the SDK builds and parses every request
on the same CPU), a floor no server can beat on this machine; `p99_create_over_null` is ours
divided by it. With no trained default model it serves a tiny random model (the API work is
the same).
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import free_port, make_tiny_model  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)


def start(data: Path, model: str) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "vidgen.studio.cli", "serve", "--port", str(port),
           "--data", str(data), "--model", model, "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    key = re.search(r"vg-\S+", proc.stdout.readline()).group(0)
    url = f"http://127.0.0.1:{port}"
    wait_up(url + "/healthz")
    return proc, url, key


def wait_up(url: str, tries: int = 600) -> None:
    """Until `url` answers 200 (a tenth of a second between tries)."""
    for _ in range(tries):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def percentile_ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(seconds, q)) * 1000, 1)


# httpcore assigns requests to connections in time quadratic in their number: against the null
# server, 200 connections cost the client 3.3 ms of CPU a create and 64 cost 1.65 (measured)
CONNECTIONS = 64


def sdk(url: str, key: str, n: int) -> openai.AsyncOpenAI:
    http = openai.DefaultAsyncHttpxClient(limits=httpx.Limits(max_connections=min(n, CONNECTIONS)))
    return openai.AsyncOpenAI(
        api_key=key, base_url=url + "/v1", max_retries=0, timeout=60, http_client=http
    )


CANNED = json.dumps({"id": "video_0", "object": "video", "created_at": 0, "status": "queued",
                     "model": "default", "progress": 0, "seconds": "1",
                     "size": "64x64"}).encode()  # fmt: skip


async def null_server(port: int) -> None:
    """Answer every HTTP/1.1 request on `port` at once with CANNED (keep-alive)."""
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                writer.write(reply % (len(CANNED), CANNED))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


async def creates_only(url: str, n: int) -> list[float]:
    """N concurrent SDK creates (no polling); each one's latency in seconds."""
    client = sdk(url, "vg-null", n)
    out = []

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        await client.videos.create(prompt=f"a red ball moves left {i}", size="64x64", seconds="1")
        out.append(time.perf_counter() - t0)

    await asyncio.gather(*(one(i) for i in range(n)))
    return out


def null_p99_ms(n: int) -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--null-server", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/")
        return percentile_ms(asyncio.run(creates_only(url, n)), 99)
    finally:
        proc.terminate()
        proc.wait(10)


async def one(client, i: int, size: str, seconds: str, creates: list, retrieves: list) -> str:
    t0 = time.perf_counter()
    v = await client.videos.create(prompt=f"a red ball moves left {i}", size=size, seconds=seconds)
    creates.append(time.perf_counter() - t0)
    while v.status in ("queued", "in_progress"):
        await asyncio.sleep(0.5)
        t0 = time.perf_counter()
        v = await client.videos.retrieve(v.id)
        retrieves.append(time.perf_counter() - t0)
    return v.status


async def load(url: str, key: str, n: int, size: str, seconds: str) -> dict:
    client = sdk(url, key, n)
    creates, retrieves = [], []
    t0 = time.perf_counter()
    states = await asyncio.gather(
        *(one(client, i, size, seconds, creates, retrieves) for i in range(n)),
        return_exceptions=True,
    )
    wall = time.perf_counter() - t0
    return {
        "submitted": len(creates),
        "completed": sum(s == "completed" for s in states),
        "errors": [repr(s) for s in states if isinstance(s, Exception)][:3],
        "p50_create_ms": percentile_ms(creates, 50),
        "p99_create_ms": percentile_ms(creates, 99),
        "p50_retrieve_ms": percentile_ms(retrieves, 50),
        "p99_retrieve_ms": percentile_ms(retrieves, 99),
        "retrieves": len(retrieves),
        "wall_s": round(wall, 1),
    }


def server_p99_ms(url: str) -> dict:
    """p99 of server-side latency per route from /metrics, interpolated linearly within the
    histogram bucket that holds it (as Prometheus' histogram_quantile does)."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[tuple, dict[float, float]] = {}
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        if fam.name != "vidgen_http_request_seconds":
            continue
        for s in fam.samples:  # one histogram per status: sum them per route
            if s.name.endswith("_bucket"):
                edges = counts.setdefault((s.labels["method"], s.labels["route"]), {})
                le = float(s.labels["le"])
                edges[le] = edges.get(le, 0.0) + s.value
    out = {}
    for (method, route), edges in counts.items():
        bs = sorted(edges.items())
        rank, lo, below = 0.99 * bs[-1][1], 0.0, 0.0
        for le, n in bs:
            if n >= rank:
                hi = le if np.isfinite(le) else lo
                out[f"{method} {route}"] = round(
                    1000 * (lo + (hi - lo) * (rank - below) / max(n - below, 1e-9)), 1
                )
                break
            lo, below = le, n
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--model", default="default")
    ap.add_argument("--null-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.null_server:
        return asyncio.run(null_server(args.null_server))
    tmp = Path(tempfile.mkdtemp(prefix="vidgen-load-"))
    model, size, seconds = args.model, "128x128", "2"
    if (
        not (Path(model) / "dit.safetensors").is_file()
        and not (
            Path(__file__).resolve().parents[1] / "models" / model / "dit.safetensors"
        ).is_file()
    ):
        model, size, seconds = str(make_tiny_model(tmp / "tiny")), "64x64", "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the worker leaves a core to the server
    proc, url, key = start(tmp / "data", model)
    try:
        out = asyncio.run(load(url, key, args.n, size, seconds))
        server = server_p99_ms(url)
        out["server_p99_create_ms"] = server.get("POST /v1/videos")
        out["server_p99_retrieve_ms"] = server.get("GET /v1/videos/{video_id}")
    finally:
        proc.terminate()
        proc.wait(120)
    out["null_p99_create_ms"] = null_p99_ms(args.n)
    out["p99_create_over_null"] = round(out["p99_create_ms"] / out["null_p99_create_ms"], 2)
    print(json.dumps({**out, "model": Path(model).name, "size": size, "seconds": seconds}))


if __name__ == "__main__":
    main()
