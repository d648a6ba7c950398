"""API load: N concurrent creates through the official openai SDK while the worker generates.

    python bench/api_load.py [--n 200] [--model default]

Starts `vidgen serve` (SQLite queue, one worker) on a free port, fires N creates at once with
the async SDK, polls every video to completion, and prints one JSON object: submitted,
completed, p50/p99 of create and retrieve latency as the client sees it (ms; the client shares
the CPU), the server's own p99 per route from /metrics (upper bucket edge), and the wall time.
With no trained default model it serves a tiny random model (the API work is the same).
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
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, url, key


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
    client = openai.AsyncOpenAI(api_key=key, base_url=url + "/v1", max_retries=0, timeout=60,
                                http_client=openai.DefaultAsyncHttpxClient(
                                    limits=httpx.Limits(max_connections=n)))  # fmt: skip
    creates, retrieves = [], []
    t0 = time.perf_counter()
    states = await asyncio.gather(
        *(one(client, i, size, seconds, creates, retrieves) for i in range(n)),
        return_exceptions=True,
    )
    wall = time.perf_counter() - t0
    ms = lambda xs, q: round(float(np.percentile(xs, q)) * 1000, 1)  # noqa: E731
    return {
        "submitted": len(creates),
        "completed": sum(s == "completed" for s in states),
        "errors": [repr(s) for s in states if isinstance(s, Exception)][:3],
        "p50_create_ms": ms(creates, 50),
        "p99_create_ms": ms(creates, 99),
        "p50_retrieve_ms": ms(retrieves, 50),
        "p99_retrieve_ms": ms(retrieves, 99),
        "retrieves": len(retrieves),
        "wall_s": round(wall, 1),
    }


def server_p99_ms(url: str) -> dict:
    """p99 of server-side latency per route from /metrics (the upper edge of its bucket)."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        if fam.name != "vidgen_http_request_seconds":
            continue
        buckets: dict[tuple, list] = {}
        for s in fam.samples:
            if s.name.endswith("_bucket"):
                k = (s.labels["method"], s.labels["route"])
                buckets.setdefault(k, []).append((float(s.labels["le"]), s.value))
        for (method, route), bs in buckets.items():
            bs.sort()
            total = bs[-1][1]
            edge = next(le for le, n in bs if n >= 0.99 * total)
            out[f"{method} {route}"] = edge * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
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
    print(json.dumps({**out, "model": Path(model).name, "size": size, "seconds": seconds}))


if __name__ == "__main__":
    main()
