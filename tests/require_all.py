"""``EDGECNN_REQUIRE_ALL=1``: a test that would be skipped fails instead, so CI cannot pass by skipping.

Tests skip when a component is missing — TensorFlow (``importorskip``), a loopback sshd, javac, the
Fashion-MNIST files, root for bind mounts. On a developer's machine that is a convenience; in CI (``.ci/run``
sets the variable) a missing component means a broken setup, and a green run would hide it. With the
variable set, every skip — in a test, a fixture or at module level (``pytest.importorskip`` at import) —
becomes a failure that keeps the skip's reason; expected failures (``xfail``) are left alone. Collection
goes on past a module that failed this way, so one missing component does not hide the rest of the run.

Loaded by tests/conftest.py. Shell test scripts (android_demo/test.sh) read the same variable: with it set,
a step that cannot run must exit non-zero instead of printing "skipped".
"""
from __future__ import annotations

import os

import pytest

ENV = "EDGECNN_REQUIRE_ALL"


def required() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def _as_failure(report, where: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{ENV}=1 and {where} was skipped: {reason.removeprefix('Skipped: ')}"


def pytest_configure(config) -> None:
    if required():
        config.option.continue_on_collection_errors = True


def pytest_report_header(config) -> str | None:
    return f"{ENV}=1: skipped tests fail" if required() else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if required() and report.skipped and not hasattr(report, "wasxfail"):
        _as_failure(report, "this test")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if required() and report.skipped:
        _as_failure(report, f"{collector.nodeid or 'collection'}")
