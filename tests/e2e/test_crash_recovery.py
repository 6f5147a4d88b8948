"""A node SIGKILLed with requests in flight: on restart it releases what it held, at once.

Node "crash-node" takes twelve live requests, each with its own Idempotency-Key, against an
upstream that hangs; a second node ("other-node") on the same database has one request in flight
too. crash-node is killed and restarted: before it serves again, its dead run's holds are released
and its claims given back; the other node's hold is untouched and its request still completes and
is billed. Each key retried after the restart is served (no 409 for minutes), the ledger verifies,
and what was captured is exactly what the clients received.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import Gateway, start_gateway
from tests.upstreams.fake_openai import FakeOpenAI

IN_FLIGHT = 12
PRICE = 53_000  # gpt-image-2, the default quality and size, as held
SLOW = {
    "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "40",
    "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "60",
    "IMAGEGATE_RETRY_ATTEMPTS": "1",
}


def _post(gateway: Gateway, key: str, idem: str | None, out: dict[str, object]) -> None:
    try:
        headers = {"Idempotency-Key": idem} if idem else {}
        out[idem or "other"] = gateway.post_images(key, {"model": "gpt-image-2", "prompt": "a kettle"}, headers=headers)
    except httpx.TransportError as exc:  # the node died under this request
        out[idem or "other"] = exc


def _ledger_ok(gateway: Gateway) -> bool:
    return bool(json.loads(gateway.cli("ledger", "verify", "--json"))["ok"])


def test_a_restarted_node_releases_its_dead_runs_holds_and_claims_at_once(
    tmp_path: Path, upstream: FakeOpenAI, database_url: str | None
) -> None:
    db = {"IMAGEGATE_DATABASE_URL": database_url} if database_url else {}
    node_env = {**SLOW, **db, "IMAGEGATE_NODE_ID": f"crash-node-{tmp_path.name}"}
    # the other node waits for its upstream as long as the test may take to kill and restart crash-node
    patient = {"IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "150", "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "180"}
    other_env = {**SLOW, **patient, **db, "IMAGEGATE_NODE_ID": f"other-node-{tmp_path.name}"}
    node = start_gateway(tmp_path / "data", upstream, node_env)
    other = start_gateway(tmp_path / "data", upstream, other_env)  # the same database (and image store)
    restarted: Gateway | None = None
    try:
        account = node.new_account("10")
        other_account = other.new_account("10")
        results: dict[str, object] = {}

        # The other node's request: held by the upstream until crash-node has restarted.
        upstream.script({"kind": "hold", "seconds": 150})
        other_worker = threading.Thread(target=_post, args=(other, other_account.key, None, results))
        other_worker.start()
        upstream.wait_for_requests(1, timeout=20)

        upstream.script({"kind": "hang", "seconds": 60, "times": IN_FLIGHT})
        keys = [f"crash-{i}" for i in range(IN_FLIGHT)]
        workers = [threading.Thread(target=_post, args=(node, account.key, k, results), daemon=True) for k in keys]
        for worker in workers:
            worker.start()
        upstream.wait_for_requests(1 + IN_FLIGHT, timeout=30)
        assert node.balance(account.id) == (10_000_000, IN_FLIGHT * PRICE)
        assert other.balance(other_account.id) == (10_000_000, PRICE)

        killed_at = time.monotonic()
        node.process._proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        node.process.stop()
        for worker in workers:
            worker.join(15)
        assert all(isinstance(results[k], httpx.TransportError) for k in keys)
        assert node.balance(account.id) == (10_000_000, IN_FLIGHT * PRICE)  # the dead run still holds

        upstream.reset()  # the retries are answered at once
        restarted = start_gateway(tmp_path / "data", upstream, node_env)
        released_after = time.monotonic() - killed_at
        # Released during start-up, before the node served anything: no polling needed.
        assert restarted.balance(account.id) == (10_000_000, 0)
        assert other.balance(other_account.id) == (10_000_000, PRICE)  # another live node's hold is not touched

        retries = [
            restarted.post_images(
                account.key, {"model": "gpt-image-2", "prompt": "a kettle"}, headers={"Idempotency-Key": k}
            )
            for k in keys
        ]
        assert [r.status_code for r in retries] == [200] * IN_FLIGHT, [r.text[:200] for r in retries]
        assert not any(r.headers.get("idempotent-replayed") for r in retries)
        charged = sum(int(r.headers["x-imagegate-cost-micros"]) for r in retries)

        upstream.release()  # now the other node's request completes
        other_worker.join(40)
        other_response = results["other"]
        assert isinstance(other_response, httpx.Response) and other_response.status_code == 200
        other_charged = int(other_response.headers["x-imagegate-cost-micros"])

        # Billed exactly what was delivered, nothing for the requests that died with the node.
        assert restarted.balance(account.id) == (10_000_000 - charged, 0)
        assert other.balance(other_account.id) == (10_000_000 - other_charged, 0)
        assert charged > 0 and other_charged > 0
        assert _ledger_ok(restarted) and _ledger_ok(other)
        (tmp_path / "release_seconds.txt").write_text(f"{released_after:.2f}\n")
        print(f"crash: {IN_FLIGHT} holds released {released_after:.2f} s after SIGKILL (restart included)")
    finally:
        for gw in (restarted, other, node):
            if gw is not None:
                gw.process.stop()
