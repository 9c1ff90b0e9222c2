"""Regenerate the README's screenshots from the browser test: ``python tools/screenshots.py``.

Runs tests/e2e (JupyterLab + Chromium + Playwright: Run All on the quickstart, light and dark theme) with
``ECO_README_IMG=docs/img``, so the test copies the card in the light and the dark theme and the comparison chart
to ``docs/img/card-light.png``, ``docs/img/card-dark.png`` and ``docs/img/compare-chart.png``. Needs what the
e2e tests need (``chromium`` on the PATH, the ``test`` extra installed); extra arguments go to pytest.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ("card-light.png", "card-dark.png", "compare-chart.png")


def main(argv: list[str]) -> int:
    out = ROOT / "docs" / "img"
    env = dict(os.environ, ECO_README_IMG=str(out))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    before = {name: (out / name).stat().st_mtime if (out / name).exists() else None for name in IMAGES}
    code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/e2e", *argv],
                           cwd=ROOT, env=env)
    fresh = [name for name in IMAGES if (out / name).exists()
             and (out / name).stat().st_mtime != before[name]]
    for name in fresh:
        print(out / name)
    if code == 0 and len(fresh) != len(IMAGES):
        print(f"not written: {sorted(set(IMAGES) - set(fresh))} (is chromium installed?)", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
