"""The README stays true: two quick-start lines, and the first-call example runs."""

from __future__ import annotations

import re
from pathlib import Path

from billing_client.v1 import customers_pb2
from conftest import make_token

README = (Path(__file__).parents[1] / "README.md").read_text()


def _block_after(heading: str, language: str) -> str:
    section = README.split(heading, 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match, f"no {language} block under {heading}"
    return match.group(1)


def test_quick_start_is_exactly_two_lines_without_chains():
    lines = [line for line in _block_after("## Quick start", "sh").splitlines() if line.strip()]
    assert lines == ["make run", "make test"]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci  # CI runs line 2 word for word


def test_first_call_example_runs(sqlite_server, monkeypatch):
    # As pasted: the target and the token come from the environment, as the README says
    # (tests/test_python_client.py runs it against `billing serve` and its token file).
    monkeypatch.setenv("BILLING_TARGET", sqlite_server.target)
    monkeypatch.setenv("BILLING_TOKEN", make_token("t_readme"))
    code = _block_after("## A first call with the Python client", "python")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    created = namespace["created"]
    assert isinstance(created, customers_pb2.Customer)
    assert created.display_name == "Acme Inc."
    assert created.currency_code == "USD"
