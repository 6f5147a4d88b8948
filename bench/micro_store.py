"""FilesystemBlobStore.put of a 1.5 KB PNG: CPU of the whole process and of the event-loop thread alone.

.venv/bin/python bench/micro_store.py /tmp    (the directory to write in; its filesystem matters)
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_upstream import render_png
from imagegate.domain.ids import new_id
from imagegate.storage.filesystem import FilesystemBlobStore
from imagegate.storage.signing import UrlSigner


async def main():
    tiny = render_png(256, 256, "flat")
    with tempfile.TemporaryDirectory(dir=sys.argv[1]) as tmp:
        blobs = FilesystemBlobStore(Path(tmp), UrlSigner(b"k" * 32), "http://x")
        for _ in range(200):
            await blobs.put(new_id("img"), "png", tiny)
        n = 3000
        s = time.process_time()
        w = time.perf_counter()
        t = time.thread_time()
        for _ in range(n):
            await blobs.put(new_id("img"), "png", tiny)
        lt = 1000 * (time.thread_time() - t) / n
        print(
            f"loop-thread {lt:.3f} ms  put cpu {1000 * (time.process_time() - s) / n:.3f} ms  wall {1000 * (time.perf_counter() - w) / n:.3f} ms"
        )


uvloop.install()
asyncio.run(main())
