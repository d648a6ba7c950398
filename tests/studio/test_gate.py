"""The server's policy gate: concurrent prompts share one batched check, each gets its own."""

import asyncio
import time

import vidgen.policy as policy
from vidgen.studio.server.gate import PolicyGate


def test_concurrent_prompts_are_checked_in_batches(monkeypatch):
    batches = []

    def fake_check_many(prompts):
        batches.append(list(prompts))
        time.sleep(0.05)  # a batch takes a while; the next one gathers meanwhile
        return [f"decision for {p}" for p in prompts]

    monkeypatch.setattr(policy, "check_many", fake_check_many)

    async def run():
        gate = PolicyGate()
        return await asyncio.gather(*(gate.check(f"p{i}") for i in range(50)))

    out = asyncio.run(run())
    assert out == [f"decision for p{i}" for i in range(50)]
    assert len(batches) < 10 and sum(map(len, batches)) == 50


def test_a_failing_check_reaches_every_waiter(monkeypatch):
    def broken(prompts):
        raise RuntimeError("policy unavailable")

    monkeypatch.setattr(policy, "check_many", broken)

    async def run():
        gate = PolicyGate()
        return await asyncio.gather(gate.check("a"), gate.check("b"), return_exceptions=True)

    assert all(isinstance(e, RuntimeError) for e in asyncio.run(run()))
