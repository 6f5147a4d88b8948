"""The start command's first screen: where the data lives, the test key, where to look, what to run next.

Printed by `imagegate serve` before it starts serving. The test key appears only on the first start
(it is shown once); the rest every time, so the URLs and the next commands are always on screen.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def command_name(argv0: str | None = None) -> str:
    """How the operator ran us (`.venv/bin/imagegate` from `scripts/serve`), for commands they can paste."""
    path = Path(argv0 if argv0 is not None else sys.argv[0])
    if path.name != "imagegate":
        return "imagegate"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return "imagegate" if path.parent == Path(".") else str(path)


def tour(
    *,
    version: str,
    data_dir: Path,
    database: str | None,
    base_url: str,
    first_run: dict[str, Any] | None,
    command: str,
) -> str:
    """The lines to print. `first_run` is the test key just created (with its `account_id`), or None."""
    account = first_run["account_id"] if first_run else "ACCOUNT_ID"
    lines = [f"imagegate {version}", f"  data        {data_dir}  (database, images, signing secret)"]
    if database:
        lines.append(f"  database    {database}")
    if first_run:
        lines += [
            "  test key    created the account 'default' and a free test-mode key (offline previews, $0),",
            "              shown only this once:",
            f"    export IMAGEGATE_API_KEY={first_run['key']}",
        ]
    lines += [
        f"  models      {base_url}/models",
        f"  playground  {base_url}/playground",
        f"  live key    {command} keys create {account} --json",
        f'              then: {command} credit add {account} 25 --reason "first top-up",',
        "              and start again with the upstream's key (e.g. OPENAI_API_KEY) in the environment",
        f"  check       {command} doctor",
    ]
    return "\n".join(lines)


__all__ = ["command_name", "tour"]
