# Two commands do all set-up on a fresh machine:
#   make lab   - local virtualenv + package + JupyterLab + what every notebook imports, opens the quickstart
#   make test  - installs the test dependencies and runs the whole suite
# (make lab-install: the same environment as make lab, without starting JupyterLab)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip --disable-pip-version-check -q

.PHONY: lab lab-install test venv clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

venv: $(VENV)/bin/python

# JupyterLab refuses to run as root without --allow-root (containers, cloud VMs)
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

# torch is pinned to the CPU build that lies on these machines' disk (a plain `torch` pulls a multi-GB CUDA build)
TORCH ?= torch==2.13.0

# .[lab] = JupyterLab + ipykernel + the notebooks' own imports (the "notebooks" extra); torch for quantization.ipynb
lab-install: venv
	$(PIP) install -e ".[lab]" "$(TORCH)"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null

lab: lab-install
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) notebooks/quickstart.ipynb

test: venv
	$(PIP) install -e ".[test]" "$(TORCH)"
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
