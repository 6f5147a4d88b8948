"""A setting is declared once: the loader, the table and `imagegate doctor` all read the declaration."""

from __future__ import annotations

import asyncio
import dataclasses
import types
import typing
from pathlib import Path

import pytest

from imagegate.config import SECTIONS, SETTINGS, Settings, load_settings
from imagegate.config.setting import SettingError
from imagegate.service.operator.doctor import diagnose
from imagegate.wiring import open_doctor


def _accepts(annotation: object, value: object) -> bool:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_accepts(arm, value) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, int | float)
    return isinstance(annotation, type) and isinstance(value, annotation)


def test_every_setting_is_declared_once_with_a_unique_name() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(name.startswith("IMAGEGATE_") and s.help for name, s in zip(names, SETTINGS, strict=True))


def test_the_defaults_read_as_the_types_their_sections_declare(tmp_path: Path) -> None:
    settings = load_settings({"IMAGEGATE_DATA_DIR": str(tmp_path)})
    for name, section in SECTIONS.items():
        hints = typing.get_type_hints(section)
        loaded = getattr(settings, name)
        for field in dataclasses.fields(section):
            value = getattr(loaded, field.name)
            assert _accepts(hints[field.name], value), (section.__name__, field.name, value)


def test_the_settings_are_their_sections_and_what_they_name() -> None:
    own = {f.name for f in dataclasses.fields(Settings)}
    assert set(SECTIONS) <= own
    assert own - set(SECTIONS) == {"catalog", "safety_policy", "storage_options", "metrics_dir", "env"}


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("IMAGEGATE_JOB_WORKERS", "many", "IMAGEGATE_JOB_WORKERS must be a whole number, not 'many'"),
        ("IMAGEGATE_JOB_WORKERS", "257", "IMAGEGATE_JOB_WORKERS must be between 0 and 256, not '257'"),
        ("IMAGEGATE_PORT", "http", "IMAGEGATE_PORT must be a whole number, not 'http'"),
        ("IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS", "soon", "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS must be a number"),
        (
            "IMAGEGATE_WEBHOOK_POLL_SECONDS",
            "inf",
            "IMAGEGATE_WEBHOOK_POLL_SECONDS must be a positive number of seconds",
        ),
        ("IMAGEGATE_JOB_POLL_SECONDS", "0.001", "IMAGEGATE_JOB_POLL_SECONDS must be between 0.05 and 3600"),
        ("IMAGEGATE_ACCESS_LOG", "maybe", "IMAGEGATE_ACCESS_LOG must be true or false, not 'maybe'"),
        ("IMAGEGATE_RATE_LIMIT_ON_ERROR", "shut", "IMAGEGATE_RATE_LIMIT_ON_ERROR must be 'open' or 'closed'"),
        ("IMAGEGATE_NODE_ROLE", "worker", "IMAGEGATE_NODE_ROLE must be one of all, api, not 'worker'"),
        ("IMAGEGATE_HOLD_TTL_SECONDS", "60", "must be longer than IMAGEGATE_REQUEST_DEADLINE_SECONDS"),
    ],
)
def test_a_value_that_cannot_be_used_is_refused_naming_the_variable(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(SettingError, match=says) as raised:
        load_settings({"IMAGEGATE_DATA_DIR": str(tmp_path), name: value})
    assert raised.value.setting.name == name


def test_an_empty_variable_is_unset_and_derived_defaults_follow_other_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {"IMAGEGATE_DATA_DIR": str(tmp_path), "IMAGEGATE_JOB_WORKERS": "", "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "100"}
    )
    assert settings.jobs.workers == 4
    assert settings.node.hold_ttl_seconds == 160  # the deadline plus the margin
    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path / 'imagegate.db'}"
    assert settings.storage.signing_secret == (tmp_path / "signing-secret").read_bytes().strip()
    assert settings.node.role == "all"


def test_doctor_names_the_refused_setting_and_says_what_it_is_from_its_declaration(tmp_path: Path) -> None:
    env = {"IMAGEGATE_DATA_DIR": str(tmp_path), "IMAGEGATE_NODE_ROLE": "everything"}
    (check,) = asyncio.run(diagnose(lambda: load_settings(env), open_doctor, offline=True))
    assert check.name == "configuration" and check.status == "fail"
    assert check.detail == "IMAGEGATE_NODE_ROLE must be one of all, api, not 'everything'"
    assert check.fix is not None and check.fix.startswith("correct IMAGEGATE_NODE_ROLE: what `imagegate serve` runs")
    assert "(default `all`)" in check.fix
