"""Shared fixtures: one real IPython shell with the extension loaded, hermetic environment, thread-leak check."""
from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def _eco_threads():
    return [t for t in threading.enumerate() if t.name.startswith("eco_magic-") and t.is_alive()]


@pytest.fixture(autouse=True)
def no_sampler_thread_outlives_a_test():
    """No eco_magic sampler thread may outlive the test that started it (warm-up/idle threads are joined too)."""
    yield
    leftover = []
    for t in _eco_threads():
        t.join(timeout=5.0)
        if t.is_alive():
            leftover.append(t.name)
    assert not leftover, f"threads left running: {leftover}"


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch, tmp_path):
    """No real powercap, region or ledger of the developer's machine leaks into a test."""
    empty = tmp_path / "no-powercap"
    empty.mkdir()
    monkeypatch.setenv("ECO_MAGIC_POWERCAP_ROOT", str(empty))
    monkeypatch.delenv("ECO_MAGIC_REGION", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("ECO_MAGIC_LEDGER", str(tmp_path / "ledger.sqlite"))


@pytest.fixture(scope="session")
def shell(tmp_path_factory):
    """One IPython shell per session (shells are traitlets singletons)."""
    os.environ["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipythondir"))
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.InteractiveShell.colors = "nocolor"
    sh = InteractiveShell.instance(config=cfg)
    yield sh
    _unload(sh)
    InteractiveShell.clear_instance()


def _unload(sh):
    if "eco_magic" in sh.extension_manager.loaded:
        sh.run_line_magic("unload_ext", "eco_magic")


@pytest.fixture
def ip(shell, tmp_path):
    """The shell with eco_magic freshly loaded (no idle baseline, ledger in tmp), unloaded afterwards."""
    _unload(shell)
    shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
    shell.run_line_magic("config", f"EcoMagics.ledger_path = {str(tmp_path / 'ledger.sqlite')!r}")
    shell.run_line_magic("config", "EcoMagics.region = 'FR'")
    shell.run_line_magic("load_ext", "eco_magic")
    import eco_magic

    eco_magic.ledger().clear()
    yield shell
    _unload(shell)
    eco_magic.ledger().clear()
    shell.run_line_magic("config", "EcoMagics.region = None")
    shell.user_ns.pop("x", None)


@pytest.fixture
def magics(ip):
    from eco_magic import magic

    return magic._LOADED[id(ip)]


# --- release artefacts and the one environment built from them (tests/envs.py) --------------------------------


@pytest.fixture(scope="session")
def release_dists(tmp_path_factory):
    """The sdist and wheel of this checkout, built once per test run (``python -m build``)."""
    from envs import build_dists

    return build_dists(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def release_env(release_dists, tmp_path_factory):
    """ONE fresh virtualenv with the built wheel (+ lab extra, notebook requirements, pytest), shared by every test
    of an installed eco_magic: see tests/envs.py."""
    from envs import build_release_env

    return build_release_env(tmp_path_factory.mktemp("release-env"), release_dists)


@pytest.fixture
def no_network(monkeypatch):
    """Refuse and record every outgoing connection or name lookup in this process (Unix sockets allowed); the test
    asserts the returned list is empty."""
    import socket

    seen: list[str] = []

    def refuse(name, original=None):
        def blocked(*args, **kwargs):
            if original is not None and args and getattr(args[0], "family", None) == socket.AF_UNIX:
                return original(*args, **kwargs)
            seen.append(name)
            raise OSError("network access blocked by the test")
        return blocked

    for name in ("connect", "connect_ex", "sendto", "sendmsg"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.{name}", getattr(socket.socket, name)))
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        monkeypatch.setattr(socket, name, refuse(name))
    return seen
