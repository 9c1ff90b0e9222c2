"""The process tree behind the process-scope CPU and RAM estimates: cheap per-tick reads, a cached walk renewed
at the cell's boundaries, and nothing lost for children found late (issue 16)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import textwrap

from eco_magic.sampler import Sampler
from eco_magic.sensors import cpu_model, proctree, ram_model


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_walk_is_cached_and_renewed_on_refresh_or_age():
    clock, walked = Clock(), []

    def walk(pid):
        walked.append(clock.t)
        return [4242] if clock.t >= 1.0 else []

    tree = proctree.ProcessTree(pid=1, refresh_s=2.0, clock=clock, walk=walk)
    assert tree.kids() == [] and walked == [0.0]
    clock.t = 1.0
    assert tree.kids() == [] and len(walked) == 1        # cached: the child started at 1 s is not seen yet
    clock.t = 2.0
    assert tree.kids() == [4242] and walked[-1] == 2.0   # two seconds old: walked again
    clock.t = 2.01
    tree.refresh(max_age_s=0.05)
    assert len(walked) == 2                              # the other model's boundary refresh just walked
    tree.refresh()
    assert walked[-1] == 2.01 and tree.walks == 3


def test_has_children_sees_a_live_child_and_none_after_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert proctree.has_children() is True
        tree = proctree.ProcessTree()
        tree.refresh()
        assert child.pid in tree.kids()
        assert tree.rss_bytes() > proctree._statm_rss_bytes(os.getpid())  # the child's RSS counts
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    still = [p for p in proctree.descendant_pids()]
    assert child.pid not in still


_NO_CHILD_CHECK = textwrap.dedent("""
    from eco_magic.sensors import proctree
    assert proctree.has_children() is False
    tree = proctree.ProcessTree()
    calls = []
    real = proctree._children_from_proc
    proctree._children_from_proc = lambda pid: calls.append(pid) or real(pid)
    tree.refresh()
    assert tree.kids() == [] and calls == [], calls       # no child at all: no file per thread is read
    a = tree.rss_bytes()
    b = proctree._statm_rss_bytes(__import__("os").getpid())
    assert abs(a - b) < 4 * 1024 * 1024, (a, b)            # the kept descriptor reads this process's statm
    print("ok")
""")


def test_process_without_children_is_not_walked():
    # in a fresh interpreter: the test process itself may have children left by other tests
    out = subprocess.run([sys.executable, "-c", _NO_CHILD_CHECK], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "ok", out.stderr


def test_child_found_late_brings_its_whole_cpu_time():
    """A child that burns CPU and is found only at the next walk still counts in full: the figure is cumulative."""
    code = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.2: pass\nimport sys\nsys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    found = []
    tree = proctree.ProcessTree(refresh_s=3600.0, walk=lambda pid: list(found))
    try:
        import psutil

        p = psutil.Process(child.pid)
        deadline = time.monotonic() + 60
        burnt = 0.0
        # /proc counts CPU in clock ticks: the child stops at 0.2 s of its own clock, /proc may say 0.19
        while burnt < 0.15 and time.monotonic() < deadline:
            burnt = sum(p.cpu_times()[:2])
            time.sleep(0.005)
        assert burnt >= 0.15, burnt
        unseen = tree.cpu_seconds()                   # cached walk: the child is not seen yet
        found.append(child.pid)
        tree.refresh()
        assert tree.cpu_seconds() - unseen >= burnt   # found: all of its CPU time, nothing lost
    finally:
        child.stdin.close()
        child.wait(timeout=10)


def test_sampler_refreshes_before_boundary_reads_only():
    (cpu,) = cpu_model.discover("process", temp_fn=lambda: None).sensors
    (ram,) = ram_model.discover("process").sensors
    refreshed = []
    cpu._refresh_fn = lambda: refreshed.append("cpu")
    ram._refresh_fn = lambda: refreshed.append("ram")
    s = Sampler([cpu, ram], rate_hz=50)
    s.start()
    assert refreshed == ["cpu", "ram"]
    import time

    time.sleep(0.3)
    m = s.stop()
    assert m.n_ticks > 2 and refreshed == ["cpu", "ram"] * 2   # the thread's ticks use the cached tree
