"""A real JupyterLab on loopback, driven by Debian's Chromium through Playwright (Python).

Skips (does not fail) where Chromium or Playwright is absent, so a laptop without them still gets a green run;
``.ci/run`` installs both, so CI always runs these tests.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ECO_CHROMIUM") or shutil.which("chromium")
ARTIFACTS = Path(os.environ.get("ECO_E2E_ARTIFACTS", REPO / "test-artifacts" / "e2e"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_settings(d: Path) -> None:
    for plugin, data in {
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    }.items():
        pkg, name = plugin.rsplit(":", 1)
        f = d / pkg / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(data))


def _requirements():
    if not CHROMIUM:
        pytest.skip("chromium not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    pytest.importorskip("jupyterlab", reason="jupyterlab not installed")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    _requirements()
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    settings = tmp_path_factory.mktemp("lab-settings")
    _lab_settings(settings)
    token, port = secrets.token_hex(16), _free_port()
    log_path = root / "jupyter-lab.log"
    log = open(log_path, "w")
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "MPLBACKEND": "Agg",
           "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jcfg")),
           "ECO_MAGIC_LEDGER": str(root / "ledger.sqlite")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.allow_root=True",
         f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('ws')}",
         "--LabApp.expose_app_in_browser=True"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text()[-3000:])
            time.sleep(0.5)
    yield {"base": base, "token": token, "root": root}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="package")  # not "session": a live sync_playwright keeps an event loop running in
# the main thread, and later tests that run top-level `await` through IPython would find it busy
def lab_browser():
    _requirements()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def lab_page(lab_browser, lab, request):
    ctx = lab_browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(120_000)  # 2-core CI
    page = ctx.new_page()
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "failure.png"))
        (ARTIFACTS / "console.log").write_text("\n".join(console))
        print(f"\nfailure screenshot and browser console in {ARTIFACTS}")
        print((lab["root"] / "jupyter-lab.log").read_text()[-4000:])
    ctx.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
