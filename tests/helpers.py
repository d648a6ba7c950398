"""Run the `vidgen` command line as a user would: a fresh Python process."""

import subprocess
import sys


def vidgen(*args, check: bool = True) -> subprocess.CompletedProcess:
    """`vidgen ARGS...`; with check, a non-zero exit fails the test with its stderr."""
    r = subprocess.run(
        [sys.executable, "-m", "vidgen.studio.cli", *map(str, args)], capture_output=True, text=True
    )
    if check and r.returncode:
        raise AssertionError(r.stderr)
    return r
