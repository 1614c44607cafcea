"""LABKIT_ENGINE_TIMEOUT: how long a quick request may take before labkit calls the engine hung
(a workshop's one busy engine needs longer than a laptop's)."""

from __future__ import annotations

import socket

import pytest

from labkit import errors
from labkit.engine.docker import QUICK_TIMEOUT, DockerEngine, quick_timeout


@pytest.fixture
def silent_engine():
    """A TCP port that takes connections and never answers: a hung engine."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"


def test_unset_is_labkits_quick_bound(monkeypatch):
    monkeypatch.delenv("LABKIT_ENGINE_TIMEOUT", raising=False)
    assert quick_timeout() == QUICK_TIMEOUT


def test_the_setting_is_the_bound_the_error_names(monkeypatch, silent_engine):
    monkeypatch.setenv("LABKIT_ENGINE_TIMEOUT", "0.4")
    with pytest.raises(errors.EngineNotResponding) as caught:
        DockerEngine(silent_engine).ping()
    assert "within 0.4 s" in str(caught.value)
    assert "LABKIT_ENGINE_TIMEOUT" in caught.value.fix


@pytest.mark.parametrize("raw", ["soon", "0", "-3", "nan", "600"])
def test_a_bad_setting_is_one_clear_error(monkeypatch, raw):
    monkeypatch.setenv("LABKIT_ENGINE_TIMEOUT", raw)
    with pytest.raises(errors.InvalidInput) as caught:
        DockerEngine()
    assert "LABKIT_ENGINE_TIMEOUT" in str(caught.value) and caught.value.fix
