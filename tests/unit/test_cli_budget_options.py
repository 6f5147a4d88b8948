"""The budget options of `keys create`, `keys budget` and `accounts limits` refuse contradictions before
anything is opened: a budget given together with its removal, or a period without an amount."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from imagegate.cli.commands import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "acct_1", "--budget-period", "day"], "--budget-period needs --budget-usd"),
        (["keys", "budget", "key_1", "--budget-period", "day"], "--budget-period needs --budget-usd"),
        (["keys", "budget", "key_1", "--budget-usd", "1", "--clear"], "give either --budget-usd or --clear"),
        (
            ["accounts", "limits", "acct_1", "--user-budget-period", "day"],
            "--user-budget-period needs --user-budget-usd",
        ),
        (
            ["accounts", "limits", "acct_1", "--user-budget-usd", "1", "--no-user-budget"],
            "give either --user-budget-usd or --no-user-budget",
        ),
    ],
)
def test_contradictory_budget_options_are_refused_as_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
