"""schemathesis against /openapi.json: generated and mutated requests never get a 5xx.

The events route is left out: its Server-Sent Events stream stays open until the job ends, and
with no workers a job never does, so schemathesis waited 30 s on it in each phase (half of this
test's time). test_api.py::test_events_stream_progress_until_done covers that route.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.studio.conftest import Server


@pytest.mark.parametrize(
    "examples", [pytest.param(8, id="quick"), pytest.param(100, id="long", marks=pytest.mark.slow)]
)
def test_no_server_errors(tmp_path, tiny_model, examples):
    exe = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    server = Server(tmp_path / "data", tiny_model, workers=0).start()  # queue only: no renders
    try:
        r = subprocess.run(
            [exe, "run", server.url + "/openapi.json", "-H",
             f"Authorization: Bearer {server.key}", "-c", "not_a_server_error",
             "--max-examples", str(examples), "--no-color", "--seed", "1",
             "--exclude-path-regex", "/events$"],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert r.returncode == 0, r.stdout[-4000:]
        assert "passed" in r.stdout and "failed" not in r.stdout.split("SUMMARY")[-1]
        assert server.proc.poll() is None  # and the server is still up
    finally:
        server.stop()
