"""The documentation matches the code: README's configuration table and the contract's CLI."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from imagegate.cli import main
from imagegate.wiring import all_settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# The contract's "Operator interface": each command with the options it documents.
CONTRACT_COMMANDS: dict[tuple[str, ...], set[str]] = {
    ("serve",): {"--host", "--port"},
    ("init",): {"--json"},
    ("accounts", "create"): {"--json"},
    ("accounts", "disable"): set(),
    ("credit", "add"): {"--reason", "--json"},
    ("keys", "create"): {"--test", "--models", "--rpm", "--json"},
    ("keys", "revoke"): set(),
    ("prices", "set"): {"--quality", "--size", "--usd"},
    ("prices", "list"): {"--json"},
}
CONTRACT_ARGUMENTS: dict[tuple[str, ...], list[str]] = {
    ("accounts", "create"): ["name"],
    ("accounts", "disable"): ["account_id"],
    ("credit", "add"): ["account_id", "amount_usd"],
    ("keys", "create"): ["account_id"],
    ("keys", "revoke"): ["key_id"],
    ("prices", "set"): ["model"],
}

_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _configuration_table() -> list[str]:
    """The rows of the table(s) in README's configuration section (up to the next heading of its level)."""
    assert README.is_file(), f"{README} is missing: the configuration table must be documented there"
    lines = README.read_text("utf-8").splitlines()
    start = level = None
    for index, line in enumerate(lines):
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading and re.search(r"config", heading.group(2), re.IGNORECASE):
            start, level = index + 1, len(heading.group(1))
            break
    assert start is not None and level is not None, "README.md has no configuration section"
    rows = []
    for line in lines[start:]:
        heading = re.match(r"^(#+)\s", line)
        if heading and len(heading.group(1)) <= level:
            break
        if line.lstrip().startswith("|"):
            rows.append(line)
    assert rows, "README.md's configuration section has no table"
    return rows


def _documented_names() -> set[str]:
    """Variable names in the first column of the configuration table."""
    names: set[str] = set()
    for row in _configuration_table():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells and not set(cells[0]) <= set("-: "):
            names.update(_NAME.findall(cells[0]))
    return names


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    documented = _documented_names()
    missing = [s.name for s in all_settings() if s.name not in documented]
    assert not missing, f"settings missing from README.md's configuration table: {missing}"


def test_readme_configuration_table_documents_only_real_settings() -> None:
    unknown = sorted(_documented_names() - {s.name for s in all_settings()})
    assert not unknown, f"README.md documents variables that are not settings: {unknown}"


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group), f"`imagegate {' '.join(path)}`: {command.name} is not a group"
        sub = command.commands.get(name)
        assert sub is not None, f"`imagegate {' '.join(path)}` does not exist"
        command = sub
    return command


@pytest.mark.parametrize("path", list(CONTRACT_COMMANDS), ids=" ".join)
def test_contract_cli_command_exists(path: tuple[str, ...]) -> None:
    command = _command(path)
    assert not isinstance(command, click.Group), f"`imagegate {' '.join(path)}` is a group, not a command"
    options = {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts}
    assert CONTRACT_COMMANDS[path] <= options, f"`imagegate {' '.join(path)}` lacks {CONTRACT_COMMANDS[path] - options}"
    arguments = [param.name for param in command.params if isinstance(param, click.Argument)]
    assert arguments == CONTRACT_ARGUMENTS.get(path, [])


def test_every_command_that_creates_or_shows_accepts_json() -> None:
    def walk(group: click.Group, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
        found = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += walk(command, (*prefix, name))
            else:
                found.append(((*prefix, name), command))
        return found

    lacking = [
        " ".join(path)
        for path, command in walk(main, ())
        if path not in {("serve",), ("worker",)}
        and "--json" not in {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    ]
    assert not lacking, f"commands without --json: {lacking}"
