"""--help a person can scan: options under headings, choices as [a|b|c], one flag per meaning."""
from __future__ import annotations

import pytest

from conftest import cli


def headings(text: str) -> list[str]:
    return [line[:-1] for line in text.splitlines() if line and not line[0].isspace() and line.endswith(":")
            and not line.startswith("Usage")]


@pytest.mark.parametrize("command, expected", [
    (("train", "char"), ["Data", "Model", "Training", "Output", "Options"]),
    (("train", "stock"), ["Data", "Model", "Training", "Output", "Options"]),
    (("run", "char"), ["Data", "Model", "Sampling", "Output", "Options"]),  # its --seed draws characters
    (("run", "stock"), ["Data", "Model", "Output", "Options"]),
    (("export",), ["Data", "Model", "Output", "Options"]),
])
def test_options_are_grouped_under_headings(command, expected):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert headings(result.stdout) == expected


def test_choices_show_what_they_take():
    text = cli("train", "stock", "--help").stdout
    for shown in ("--cell [rnn|lstm|gru]", "--target-mode [change|delta|level]", "--fill [ffill]"):
        assert shown in text
    assert "--precision [fp32|int8]" in cli("run", "char", "--help").stdout


def test_force_overwrites_and_failed_checks_have_their_own_flag():
    text = " ".join(cli("export", "--help").stdout.split())
    assert "--force / --no-force Overwrite existing files." in text
    assert "--allow-failed-checks Write the model even when a check fails" in text
