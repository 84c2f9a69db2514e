"""Every command's --help says what the command and each of its options do."""

from __future__ import annotations

import argparse
import re

import pytest

from gridwatch.cli import main, parser


def squeezed(text: str) -> str:
    """Without whitespace: argparse wraps lines (and breaks at hyphens) to fit the terminal."""
    return re.sub(r"\s+", "", text)


def commands(
    p: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under ``p`` with the words that reach it, ``p`` first."""
    found = [(path, p)]
    for action in p._actions:
        if isinstance(action.choices, dict):  # the sub-commands: name → parser
            for name, child in action.choices.items():
                found += commands(child, (*path, name))
    return found


ALL = commands(parser())


def test_every_command_group_and_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in ALL}
    assert {"", "run", "check-config", "site", "site show", "user add", "db upgrade", "events figures"} <= names
    assert {"model export", "eval", "watch", "site generate", "events check-policy", "user token", "worker"} <= names
    assert {"cluster", "cluster up", "cluster status", "cluster down", "cluster detector", "dispatch"} <= names
    assert {"open311", "open311 client", "open311 client add", "open311 client list", "open311 client disable"} <= names
    assert {"gateway", "gateway add", "gateway list", "gateway import", "gateway sync"} <= names
    assert {"cameras", "cameras discover"} <= names
    assert len(names) == 47


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(path) or "gridwatch" for path, _ in ALL])
def test_help_describes_the_command_and_every_option(
    path: tuple[str, ...],
    command: argparse.ArgumentParser,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: {' '.join(('gridwatch', *path))}")
    assert command.description, "no description"
    assert len(command.description.split()) >= 3
    assert squeezed(command.description) in squeezed(shown)
    for action in command._actions:
        if isinstance(action.choices, dict):  # each sub-command is listed with its one-line summary
            for name in action.choices:
                assert re.search(rf"^\s+{re.escape(name)}\s+\S", shown, re.MULTILINE), f"{name}: no summary"
            continue
        what = action.option_strings[-1] if action.option_strings else action.dest
        assert action.help, f"{what}: no help"
        assert action.help != argparse.SUPPRESS, f"{what}: hidden"
        assert len(action.help.split()) >= 2, f"{what}: help too short to say anything"
        assert squeezed(action.help) in squeezed(shown), f"{what}: help not shown"
