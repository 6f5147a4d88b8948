"""Where the gateway's CPU went, from a py-spy raw profile (collapsed stacks with counts).

    .venv/bin/python bench/profile_summary.py PROFILE.txt [--thread MainThread] [--cpu-ms 9.6]

bench/run.py --profile records these with `py-spy record --threads --format raw` (add --native for C
frames: needed to see SQLAlchemy's work, which runs on greenlet stacks that py-spy cannot walk to their
Python parent without it). Three views, as shares of the samples kept:
  * by thread;
  * by component: each sample goes to the innermost frame that belongs to a known component, so
    SQLAlchemy work called from the ledger counts as SQLAlchemy; samples with no such frame are the
    event loop's own C code or the interpreter;
  * by step of the request path, inclusive (a sample counts for every step on its stack).
--cpu-ms turns shares into milliseconds of CPU per request (give the measured figure for the threads kept).
"""

from __future__ import annotations

import argparse
import collections
import re

COMPONENTS = (
    ("SQLAlchemy (statement building, compile cache, execution, greenlet bridge)", r"sqlalchemy/|greenlet"),
    ("aiosqlite (queueing work to its thread, futures)", r"aiosqlite/"),
    ("httpx / httpcore (upstream call)", r"httpx/|httpcore/"),
    ("aiohttp (upstream call)", r"aiohttp/|multidict/|yarl/"),
    ("asyncio (tasks, futures, executor dispatch)", r"asyncio/"),
    ("Pillow", r"PIL/"),
    ("json", r"json/"),
    ("base64", r"base64\.py|binascii"),
    ("FastAPI / Starlette", r"fastapi/|starlette/"),
    ("uvicorn (httptools protocol)", r"uvicorn/protocols"),
    ("anyio (to_thread dispatch, cancel scopes, sockets)", r"anyio/"),
    ("imagegate's own code", r"imagegate/(?!cli\.py)"),
    ("sqlite3 (C library, in aiosqlite's threads)", r"sqlite3|libsqlite"),
)

STEPS = (
    ("auth: key lookup", r"imagegate/http/auth\.py"),
    ("price overrides query", r"overrides \(imagegate/db/prices\.py"),
    ("hold transaction", r"take_hold \(imagegate/db/ledger\.py"),
    ("upstream call (providers/openai.py)", r"imagegate/providers/openai\.py"),
    ("  upstream JSON parse", r"json_body \(imagegate"),
    ("  base64 decode", r"decode_b64 \(imagegate"),
    ("image check (imaging/images.py, in a worker thread)", r"imagegate/(imaging/)?images\.py"),
    ("store the image (storage/)", r"imagegate/storage/filesystem"),
    ("sign the URL", r"imagegate/storage/signing\.py"),
    ("build data[] (_deliver: base64 encode or store + sign)", r"_deliver \(imagegate"),
    ("settle transaction", r"settle \(imagegate/db/ledger\.py|_close \(imagegate/db/ledger\.py"),
    ("usage record", r"record \(imagegate/db/usage\.py"),
    ("response JSON render", r"render \(starlette/responses\.py"),
    ("new ids", r"new_id \(imagegate/(domain/)?ids\.py"),
)


def load(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path) as fh:
        for line in fh:
            frames, _, count = line.rstrip("\n").rpartition(" ")
            if frames:
                stacks.append((frames.split(";"), int(count)))
    return stacks


def thread_of(frames: list[str]) -> str:
    """The kind of thread a sample came from (py-spy --threads puts "thread (tid): name" first)."""
    root = frames[0]
    if not root.startswith("thread ("):
        return "all threads"
    name = root.partition(")")[2].lstrip(": ")
    if "_connection_worker_thread" in name:
        return "aiosqlite connection threads"
    if name.startswith("uvloop_"):
        return "asyncio default executor (asyncio.to_thread)"
    return name or "unnamed"


def component_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in COMPONENTS:
            if re.search(pattern, frame):
                return name
    if "epoll" in frames[-1]:
        return "event loop waiting in epoll (idle; seen with --native only)"
    return "event loop and interpreter C code (uvloop, _asyncio, syscalls, GC)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile")
    parser.add_argument("--thread", default="", help="only samples of this kind of thread (e.g. MainThread)")
    parser.add_argument("--cpu-ms", type=float, default=0, help="measured CPU ms per request of those threads")
    a = parser.parse_args()
    all_stacks = load(a.profile)
    stacks = [(f, n) for f, n in all_stacks if not a.thread or thread_of(f) == a.thread]
    total = sum(n for _, n in stacks) or 1

    def show(counter: collections.Counter[str], of: int = total) -> None:
        for name, n in counter.most_common():
            ms = f"  ~{n / of * a.cpu_ms:.2f} ms/req" if a.cpu_ms else ""
            print(f"{100 * n / of:5.1f} %{ms}  {name}")

    threads: collections.Counter[str] = collections.Counter()
    for frames, n in all_stacks:
        threads[thread_of(frames)] += n
    print(f"## by thread ({sum(threads.values())} samples; py-spy may count a thread waiting for the GIL as busy)")
    show(threads, sum(threads.values()))
    components: collections.Counter[str] = collections.Counter()
    for frames, n in stacks:
        components[component_of(frames)] += n
    print(f"\n## by component, innermost ({total} samples{', ' + a.thread if a.thread else ''})")
    show(components)
    print("\n## by step, inclusive")
    steps: collections.Counter[str] = collections.Counter()
    for label, pattern in STEPS:
        rx = re.compile(pattern)
        steps[label] = sum(n for frames, n in stacks if rx.search(";".join(frames)))
    for label, _ in STEPS:
        ms = f"  ~{steps[label] / total * a.cpu_ms:.2f} ms/req" if a.cpu_ms else ""
        print(f"{100 * steps[label] / total:5.1f} %{ms}  {label}")


if __name__ == "__main__":
    main()
