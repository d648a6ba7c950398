"""The content policy in the server: prompts that arrive together are checked together.

One MiniLM pass over a batch costs about half as much per prompt as one pass per prompt, and
a burst of creates no longer has dozens of threads fighting over the same core: while one
batch runs, the next one gathers.
"""

from __future__ import annotations

import asyncio

from anyio import to_thread

BATCH = 64


class PolicyGate:
    def __init__(self):
        self.pending: list[tuple[str, asyncio.Future]] = []
        self.busy = False

    async def check(self, prompt: str):
        """The policy's Decision for one prompt (batched with whatever else is waiting)."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((prompt, future))
        if not self.busy:
            self.busy = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        from vidgen.policy import check_many

        try:
            while self.pending:
                batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
                try:
                    decisions = await to_thread.run_sync(check_many, [p for p, _ in batch])
                except Exception as e:  # every waiting request hears about it
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(e)
                    continue
                for (_, f), d in zip(batch, decisions, strict=True):
                    if not f.done():
                        f.set_result(d)
        finally:
            self.busy = False
