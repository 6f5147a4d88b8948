"""Where the gateway's CPU went, from a py-spy raw profile (collapsed stacks with counts).

    .venv/bin/python bench/profile_summary.py bench/results/...-profile-c64.txt [--requests N]

Prints three views, as shares of all samples (py-spy records only threads that are busy):
  * by thread (the event loop vs aiosqlite's and anyio's worker threads);
  * by step of the request path (inclusive: a sample counts for every step on its stack), in the
    order the request takes them;
  * by library, from the innermost frame of each sample (self time).
With --requests (requests served while sampling), shares are turned into ms of CPU per request.
"""

from __future__ import annotations

import argparse
import collections
import re

# (label, regex over the whole stack), inclusive; in request order
STEPS = (
    ("uvicorn + httptools: HTTP parsing, ASGI plumbing", r"uvicorn/protocols/http/httptools_impl\.py"),
    ("request-id middleware (everything inside it)", r"RequestIdMiddleware|imagegate/http/middleware\.py"),
    ("auth: key lookup (SELECT api_keys JOIN accounts)", r"imagegate/http/auth\.py"),
    ("body JSON parse + validation", r"parse_json \(imagegate|parse_image_request"),
    ("price overrides query (SELECT price_cards)", r"overrides \(imagegate/db/prices\.py"),
    ("hold transaction (UPDATE accounts, INSERT holds, INSERT ledger)", r"take_hold \(imagegate/db/ledger\.py"),
    ("upstream call: httpx request + response", r"generate \(imagegate/providers/openai\.py"),
    ("  of which JSON decode of the upstream body", r"json_body \(imagegate/providers/base\.py"),
    ("  of which base64 decode", r"decode_b64 \(imagegate"),
    ("image check / conform (Pillow, in a thread)", r"imagegate/images\.py"),
    ("store the image (file write, in a thread)", r"_write_atomically|put \(imagegate/storage"),
    ("sign the URL (HMAC)", r"imagegate/storage/signing\.py"),
    ("base64 encode for b64_json", r"_deliver \(imagegate.*b64encode|b64encode.*_deliver"),
    ("settle transaction (UPDATE holds, UPDATE accounts, INSERT ledger)", r"settle \(imagegate/db/ledger\.py"),
    ("usage record (INSERT usage_records)", r"record \(imagegate/db/usage\.py"),
    ("response JSON render (JSONResponse)", r"render \(starlette/responses\.py|render \(fastapi"),
    ("new ids (ULID-like)", r"new_id \(imagegate/ids\.py"),
    ("hold sweeper", r"_sweep_forever"),
    ("SQLAlchemy (anywhere)", r"sqlalchemy/"),
    ("aiosqlite (anywhere)", r"aiosqlite/"),
    ("sqlite3 C calls (execute/commit in aiosqlite's thread)", r"(execute|commit|rollback|fetchall|fetchone|close) \(aiosqlite/core\.py|_execute \(aiosqlite"),
    ("httpx + httpcore (anywhere)", r"httpx/|httpcore/"),
    ("FastAPI + Starlette routing (anywhere)", r"fastapi/|starlette/routing"),
    ("anyio worker threads (to_thread)", r"anyio/_backends/_asyncio\.py.*run \(|worker_thread|_worker \(concurrent"),
)

LIBRARIES = (
    ("sqlalchemy", r"sqlalchemy/"), ("aiosqlite / sqlite3", r"aiosqlite/|sqlite3/"),
    ("httpx / httpcore / h11", r"httpx/|httpcore/|h11/"), ("uvicorn / httptools", r"uvicorn/|httptools/"),
    ("starlette / fastapi", r"starlette/|fastapi/"), ("pydantic", r"pydantic"), ("PIL", r"PIL/"),
    ("json", r"json/"), ("asyncio / uvloop / anyio", r"asyncio/|uvloop/|anyio/"), ("threading / queue", r"threading\.py|queue\.py"),
    ("imagegate", r"imagegate/"), ("logging", r"logging/"), ("alembic", r"alembic/"),
)


def load(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line:
            continue
        frames, _, count = line.rpartition(" ")
        stacks.append((frames.split(";"), int(count)))
    return stacks


def thread_of(frames: list[str]) -> str:
    """The thread a sample came from (py-spy --threads puts "thread (tid): name" first)."""
    root = frames[0]
    if not root.startswith("thread ("):
        return "all threads"
    name = root.split("): ", 1)[-1]
    if "_connection_worker_thread" in name:
        return "aiosqlite connection threads"
    if name.startswith("uvloop_"):
        return "asyncio default executor (asyncio.to_thread: image file writes)"
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--requests", type=int, default=0, help="requests served while sampling")
    parser.add_argument("--cpu-ms", type=float, default=0, help="measured CPU ms per request (to scale shares)")
    a = parser.parse_args()
    stacks = load(a.profile)
    total = sum(n for _, n in stacks)

    def share(n: int) -> str:
        pct = 100 * n / total
        ms = f"  ~{pct * a.cpu_ms / 100:.2f} ms/req" if a.cpu_ms else ""
        return f"{pct:5.1f} %{ms}"

    print(f"{total} samples")
    by_thread = collections.Counter()
    for frames, n in stacks:
        by_thread[thread_of(frames)] += n
    print("\n## by thread")
    for name, n in by_thread.most_common():
        print(f"{share(n)}  {name}")
    print("\n## by step (inclusive)")
    for label, pattern in STEPS:
        rx = re.compile(pattern)
        n = sum(c for frames, c in stacks if rx.search(";".join(frames)))
        print(f"{share(n)}  {label}")
    print("\n## by library (innermost frame that is not a builtin)")
    by_lib = collections.Counter()
    for frames, n in stacks:
        leaf = next((f for f in reversed(frames) if "(" in f and ".py" in f), frames[-1])
        lib = next((name for name, p in LIBRARIES if re.search(p, leaf)), "other: " + leaf.split(" (")[-1].split(":")[0][-40:])
        by_lib[lib] += n
    for name, n in by_lib.most_common(20):
        print(f"{share(n)}  {name}")
    print("\n## hottest innermost frames")
    leaves = collections.Counter()
    for frames, n in stacks:
        leaves[frames[-1]] += n
    for name, n in leaves.most_common(15):
        print(f"{share(n)}  {name[:110]}")


if __name__ == "__main__":
    main()
