"""Auto-load: ``c.InteractiveShellApp.extensions = ["eco_magic"]`` in an IPython profile loads the extension in every
new IPython session and Jupyter kernel, with the profile's ``c.EcoMagics`` settings applied. Real subprocesses,
with IPYTHONDIR pointing at a temporary profile folder."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kernel_child import Kernel, child_env

CODE = """
import json, eco_magic
ip = get_ipython()
loaded = "ecolyze" in ip.magics_manager.magics["cell"]
rows = []
if loaded:
    r = ip.run_cell_magic("ecolyze", "-q -o -l autoloaded", "x = sum(range(10000))")
    rows = [(row["label"], row["region"]) for row in eco_magic.ledger().records(all_sessions=True)]
print("AUTOLOAD " + json.dumps({"loaded": loaded, "rows": rows}))
"""


def _profile(ipythondir: Path, ledger: Path, autoload: bool) -> None:
    """``profile_default/ipython_config.py`` as the docs tell users to write it (plus a region and a ledger)."""
    profile = ipythondir / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    lines = ["c = get_config()  # noqa"]
    if autoload:
        lines.append('c.InteractiveShellApp.extensions = ["eco_magic"]')
    lines += ['c.EcoMagics.region = "FR"', "c.EcoMagics.idle_baseline_s = 0",
              f"c.EcoMagics.ledger_path = {str(ledger)!r}"]
    (profile / "ipython_config.py").write_text("\n".join(lines) + "\n")


def _report(text: str) -> dict:
    line = next(ln for ln in text.splitlines() if ln.startswith("AUTOLOAD "))
    return json.loads(line.removeprefix("AUTOLOAD "))


@pytest.mark.parametrize("autoload", [True, False], ids=["configured", "not-configured"])
def test_ipython_session_loads_the_extension_from_the_profile(tmp_path, autoload):
    env = child_env(tmp_path)  # IPYTHONDIR = tmp_path / "ipythondir"
    _profile(Path(env["IPYTHONDIR"]), tmp_path / "ledger.sqlite", autoload)
    out = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c", CODE],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = _report(out.stdout)
    if autoload:
        assert report == {"loaded": True, "rows": [["autoloaded", "FR"]]}, out.stdout
        assert "Traceback" not in out.stderr and "eco_magic" not in out.stderr, out.stderr
    else:  # the control: without the line nothing loads it, so the test above shows the line does
        assert report == {"loaded": False, "rows": []}


def test_jupyter_kernel_loads_the_extension_from_the_profile(tmp_path):
    pytest.importorskip("ipykernel")
    _profile(tmp_path / "ipythondir", tmp_path / "ledger.sqlite", autoload=True)  # child_env's IPYTHONDIR
    kernel = Kernel(tmp_path)
    try:
        reply, msgs = kernel.run(CODE, timeout=120)
    finally:
        kernel.shutdown()
    assert reply["status"] == "ok", reply
    stdout = "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
    assert _report(stdout) == {"loaded": True, "rows": [["autoloaded", "FR"]]}
