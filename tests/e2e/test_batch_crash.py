"""A batch whose node is SIGKILLed with two of its lines upstream: restarted, the node runs the batch
to its end, and each line is billed exactly once (the two interrupted lines run again, unbilled the
first time), the output file has every line, and the ledger verifies."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.conftest import start_gateway
from tests.e2e.test_jobs import FAST_JOBS
from tests.upstreams.fake_openai import FakeOpenAI

LINES = 6
BATCH_PRICE = 3_000  # gpt-image-2 low 1024x1024 (6,000) at the bundled catalog's half price


def _sql(url: str, statement: str) -> None:
    """What passing time does to the dead node's leases, done as an operator would with psql."""

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.mark.postgres
def test_a_batch_whose_node_died_mid_run_finishes_with_each_line_billed_once(
    tmp_path: Path, upstream: FakeOpenAI, postgres_url: str
) -> None:
    env = {
        **FAST_JOBS,
        "IMAGEGATE_DATABASE_URL": postgres_url,
        "IMAGEGATE_NODE_ID": f"batch-node-{tmp_path.name}",
        "IMAGEGATE_JOB_WORKERS": "2",
        "IMAGEGATE_BATCH_CONCURRENCY": "2",
    }
    upstream.reset()
    node = start_gateway(tmp_path / "data", upstream, env)
    try:
        account = node.new_account("10")
        client = node.client(account.key)
        lines = [
            {
                "custom_id": f"line-{n}",
                "method": "POST",
                "url": "/v1/images/generations",
                "body": {"model": "gpt-image-2", "prompt": f"a kite {n}", "quality": "low", "size": "1024x1024"},
            }
            for n in range(LINES)
        ]
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")
        upstream.script({"kind": "hang", "seconds": 60, "times": 2})
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/images/generations", completion_window="24h"
        )
        upstream.wait_for_requests(2, timeout=30)  # two lines upstream, held
        node.process._proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        node.process.stop()
        assert node.balance(account.id)[1] == 2 * BATCH_PRICE  # the two running lines' holds
        # time passes: the dead node's job leases and its batch lease run out
        _sql(postgres_url, "UPDATE jobs SET lease_until = '2000-01-01' WHERE status = 'running'")
        _sql(postgres_url, "UPDATE batches SET lease_until = NULL")

        node = start_gateway(tmp_path / "data", upstream, env)
        client = node.client(account.key)
        deadline = time.monotonic() + 90
        while (done := client.batches.retrieve(batch.id)).status != "completed":
            assert done.status in ("validating", "in_progress", "finalizing"), done
            assert time.monotonic() < deadline, done
            time.sleep(0.1)
        assert done.request_counts is not None and done.request_counts.completed == LINES
        assert done.output_file_id is not None and done.error_file_id is None
        output = [json.loads(text) for text in client.files.content(done.output_file_id).text.splitlines()]
        assert sorted(r["custom_id"] for r in output) == [f"line-{n}" for n in range(LINES)]
        assert len(upstream.requests) == LINES + 2  # the two interrupted lines ran again
        assert node.balance(account.id) == (10_000_000 - LINES * BATCH_PRICE, 0)  # each line billed once
        assert json.loads(node.cli("ledger", "verify", "--json"))["ok"]
    finally:
        node.process.stop()
