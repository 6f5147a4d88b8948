"""Debian's nginx on a loopback port, as the load balancer in front of several gateway processes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Self

from tests.support.processes import ManagedProcess, free_port

CONFIG = """\
{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream imagegate {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        location / {{
            proxy_pass http://imagegate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 60s;
            proxy_buffering off;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class Nginx:
    def __init__(self, binary: str, root: Path, backends: list[int], port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=30s;" for port in backends)
        config = root / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the test's private folder
        config.write_text(CONFIG.format(user=user, root=root, servers=servers, port=self.port))
        self.process = ManagedProcess(
            [binary, "-p", str(root), "-c", str(config), "-e", str(root / "error.log")], {}, root / "nginx.out"
        )

    def __enter__(self) -> Self:
        self.process.start(ready_port=self.port, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()
