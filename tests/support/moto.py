"""moto's S3 server (`moto_server`, from PyPI) on a loopback port: the closest real S3 HTTP API here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Self

import boto3

from tests.support.processes import ManagedProcess, free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


class MotoServer:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        executable = Path(sys.executable).parent / "moto_server"
        self.process = ManagedProcess(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)], {}, log_dir / f"moto-{self.port}.log"
        )

    def __enter__(self) -> Self:
        self.process.start(ready_port=self.port, timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    @property
    def env(self) -> dict[str, str]:
        """What a gateway needs to use this server: the standard AWS variables."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listing.get("Contents", [])]

    def drop_bucket(self, name: str) -> None:
        client = self.client()
        for key in self.keys(name):
            client.delete_object(Bucket=name, Key=key)
        client.delete_bucket(Bucket=name)
