"""Model detection after a cell (issue 13 item 5), through a real IPython shell: bounded by the cell's names,
never opening data the cell did not name (containers, lazy archives, properties, proxies), interruptible
without losing the row, and ``--model pipe.model`` (dotted) accepted."""
from __future__ import annotations

import collections.abc
import types

import numpy as np
import pytest
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic.frameworks import base, detect

torch = pytest.importorskip("torch")


def run(ip, cell: str, **ns):
    ip.user_ns.update(ns)
    with capture_output() as cap:
        res = ip.run_cell(cell)
    assert res.success, (res.error_in_exec, cap.stderr)
    return eco_magic.ledger()[-1]


class SpyList(list):
    """A list that records any attempt to walk it."""

    walked = 0

    def __iter__(self):
        SpyList.walked += 1
        return super().__iter__()

    def __getitem__(self, i):
        SpyList.walked += 1
        return super().__getitem__(i)


class LazyMapping(collections.abc.Mapping):
    """An h5py/zarr-like mapping: every item read is a (counted) load."""

    def __init__(self, n):
        self.n, self.loads = n, 0

    def __getitem__(self, key):
        self.loads += 1
        return np.zeros(4, dtype=np.float32)

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class Proxy:
    """A lazy proxy whose every attribute access is a side effect (wrapt/dask-style)."""

    touched = 0

    def __getattribute__(self, name):
        Proxy.touched += 1
        return object.__getattribute__(self, name)


class WithProperty:
    fired = 0

    @property
    def model(self):
        WithProperty.fired += 1
        return torch.nn.Linear(2, 2)


def test_a_cell_naming_a_big_container_does_not_walk_it(ip):
    SpyList.walked = 0
    big = SpyList(np.zeros(1, dtype=np.float32) for _ in range(50_000))
    walked_by_building = SpyList.walked
    r = run(ip, "%%ecolyze -q\nz = len(big)", big=big)
    assert SpyList.walked == walked_by_building
    assert r.n_params is None and "no model" in r.ess_note
    d = {f"w{i}": np.zeros(1) for i in range(50_000)}
    r = run(ip, "%%ecolyze -q\nz = len(d)", d=d)
    assert r.n_params is None


def test_npz_archive_is_not_read_beyond_what_the_cell_reads(ip, tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    np.savez(path, **{f"a{i}": np.arange(10, dtype=np.float32) for i in range(20)})
    data = np.load(path)
    reads = []
    original = type(data).__getitem__
    monkeypatch.setattr(type(data), "__getitem__", lambda self, key: reads.append(key) or original(self, key))
    r = run(ip, '%%ecolyze -q\nx = data["a0"][:3]', data=data)
    assert reads == ["a0"]                                   # the cell's own read, and nothing else
    assert r.n_params is None
    data.close()


def test_lazy_mapping_proxy_and_property_are_never_touched(ip):
    lazy = LazyMapping(1000)
    Proxy.touched = WithProperty.fired = 0
    proxy, holder = Proxy(), WithProperty()
    Proxy.touched = 0
    run(ip, "%%ecolyze -q\nn = len(lazy)\np = proxy\nh = holder", lazy=lazy, proxy=proxy, holder=holder)
    assert lazy.loads == 0
    assert Proxy.touched == 0
    assert WithProperty.fired == 0


def test_a_model_next_to_big_data_is_still_found(ip):
    net = torch.nn.Linear(8, 4)
    r = run(ip, "%%ecolyze -q\ny = net(torch.zeros(2, 8)); z = len(big)", net=net, torch=torch,
            big=[np.zeros(1)] * 10_000)
    assert (r.model_variable, r.n_params, r.precision_source) == ("net", 36, "dtype census")


def test_ctrl_c_during_detection_keeps_the_row_and_says_so(ip):
    class Interrupting(torch.nn.Module):
        def parameters(self, recurse=True):
            raise KeyboardInterrupt  # what a Ctrl-C delivers while the parameters are being walked

    small = torch.nn.Linear(2, 2)
    ip.user_ns.update(small=small, bad=Interrupting(), torch=torch)
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze -l kept\nout = small(torch.zeros(1, 2)); m = bad\n41 + 1")
    assert res.success and res.result == 42                # the cell's value survives
    r = eco_magic.ledger()[-1]
    assert r.label == "kept" and r.status == "ok"
    assert any("interrupted (Ctrl-C)" in n for n in r.notes)
    assert r.model_variable == "small"                      # what was found before the interrupt
    shown = "".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "interrupted (Ctrl-C)" in shown


def test_detection_has_a_time_budget(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(base.Budget, "clock", staticmethod(lambda: now[0]))

    class Slow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(1, 1) for _ in range(300))

        def parameters(self, recurse=True):
            for p in super().parameters(recurse):
                now[0] += 0.05                             # each parameter "takes" 50 ms
                yield p

    ns = {"first": torch.nn.Linear(3, 3), "slow": Slow()}
    found = detect.detect("first(x); slow(x)", ns)
    assert found.info.variable == "first"
    assert "stopped after its 2 s budget" in found.note and "first" in found.note
    with pytest.raises(ValueError, match="took more than 10 s"):
        detect.find_in_namespace("", {"slow": Slow()}, explicit="slow")


def test_dotted_model_path_through_the_magic(ip):
    pipe = types.SimpleNamespace(model=torch.nn.Linear(3, 2), tokenizer=None)
    r = run(ip, "%%ecolyze -q --model pipe.model\ny = 1", pipe=pipe)
    assert (r.model_variable, r.n_params) == ("pipe.model", 8)
    outer = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 5))
    r = run(ip, "%%ecolyze -q --model net.encoder\ny = 1", net=types.SimpleNamespace(encoder=outer))
    assert (r.model_variable, r.n_params) == ("net.encoder", 6 + 15)


@pytest.mark.parametrize("bad", ["pipe..model", "pipe.1", "pipe.model()", "class.x"])
def test_bad_model_paths_are_usage_errors(ip, bad):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--model"):
        ip.run_cell_magic("ecolyze", f"--model {bad}", "y = 1")


def test_explicit_container_never_opens_lazy_mappings():
    lazy = LazyMapping(10)
    with pytest.raises(ValueError, match="not a model"):
        detect.find_in_namespace("", {"lazy": lazy}, explicit="lazy")
    assert lazy.loads == 0
