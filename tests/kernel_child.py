"""Child processes for the durability tests: an IPython shell or a real Jupyter kernel running ``%%ecolyze``.

As a script (one plain IPython shell in its own process, speaking a line protocol on stdout)::

    python tests/kernel_child.py --ledger PATH --cells N --label P [--go FILE] [--long]

prints ``ready`` once the extension is loaded, waits for ``FILE`` to exist when ``--go`` is given (so that
several children start appending at the same moment), runs ``N`` measured cells labelled ``P-0`` … ``P-{N-1}``
and prints ``done i`` after each one has returned (its row is then committed), then ``long`` before a measured
cell that sleeps for a minute when ``--long`` is given, and ``finished`` at the end. A cell that fails prints
``error ...`` and exits with status 3.

As a module: :func:`child_env` (the environment every child gets: the repository importable, no real powercap,
no region guess) and :class:`Kernel` (a real ipykernel through jupyter_client, with ``run`` and ``kill``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve()


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """``os.environ`` plus: the repository on ``PYTHONPATH``, an empty powercap root, no region or CUDA hints."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    empty = tmp / "no-powercap"
    empty.mkdir(exist_ok=True)
    env["ECO_MAGIC_POWERCAP_ROOT"] = str(empty)
    env["IPYTHONDIR"] = str(tmp / "ipythondir")
    env["MPLBACKEND"] = "Agg"
    for name in ("ECO_MAGIC_REGION", "CUDA_VISIBLE_DEVICES", "JPY_SESSION_NAME"):
        env.pop(name, None)
    env.update(extra)
    return env


def setup_lines(ledger: Path | str) -> list[str]:
    """The magics that configure and load the extension in a child (no idle baseline, ledger at ``ledger``)."""
    return ["%config EcoMagics.idle_baseline_s = 0",
            f"%config EcoMagics.ledger_path = {str(ledger)!r}",
            "%config EcoMagics.region = 'FR'",
            "%load_ext eco_magic"]


class Kernel:
    """A real ipykernel (``python3`` kernelspec) started by jupyter_client, for kill and interrupt tests."""

    def __init__(self, tmp: Path, **env: str) -> None:
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=child_env(tmp, **env), cwd=str(tmp))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.seen: dict[str, list[dict]] = {}

    def run(self, code: str, timeout: float = 60.0) -> tuple[dict, list[dict]]:
        """Execute ``code``; return the reply content and the iopub messages of that execution."""
        msgs: list[dict] = []
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append, allow_stdin=False)
        return reply["content"], msgs

    def start(self, code: str) -> str:
        """Send ``code`` without waiting; returns the message id."""
        return self.kc.execute(code, allow_stdin=False)

    def collect(self, msg_id: str, until, timeout: float = 60.0) -> list[dict]:
        """Read iopub messages of execution ``msg_id`` into ``self.seen[msg_id]`` until ``until(messages)``."""
        msgs = self.seen.setdefault(msg_id, [])
        deadline = time.monotonic() + timeout
        while not until(msgs):
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernel output for {msg_id} incomplete after {timeout} s: {msgs!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except Exception:  # noqa: BLE001 - queue.Empty: keep waiting until the deadline
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                msgs.append(msg)
        return msgs

    def wait_for_stream(self, msg_id: str, text: str, timeout: float = 60.0) -> None:
        """Read iopub until execution ``msg_id`` printed ``text`` on a stream."""
        self.collect(msg_id, lambda ms: text in "".join(m["content"].get("text", "") for m in ms
                                                          if m["msg_type"] == "stream"), timeout)

    def wait_idle(self, msg_id: str, timeout: float = 60.0) -> list[dict]:
        """Every iopub message of ``msg_id`` up to the kernel going idle again."""
        return self.collect(msg_id, lambda ms: any(m["msg_type"] == "status" and
                                                   m["content"]["execution_state"] == "idle" for m in ms), timeout)

    def reply(self, msg_id: str, timeout: float = 60.0) -> dict:
        """The execute_reply content of ``msg_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]
        raise TimeoutError(f"no reply to {msg_id} within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the kernel's process group, as the OOM killer or ``kill -9`` would."""
        import signal

        self.km.signal_kernel(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.InteractiveShell.colors = "nocolor"
    return InteractiveShell.instance(config=cfg)


def _print_rss() -> None:
    import gc

    import psutil

    gc.collect()
    print(f"rss {psutil.Process().memory_info().rss}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ledger", required=True)
    p.add_argument("--cells", type=int, default=0)
    p.add_argument("--label", default="c")
    p.add_argument("--go", default=None)
    p.add_argument("--long", action="store_true")
    p.add_argument("--rss-after", type=int, default=None,
                   help="print 'rss BYTES' (after gc.collect) once this many cells ran, and again at the end")
    p.add_argument("--quiet-progress", action="store_true", help="do not print 'done i' lines")
    args = p.parse_args(argv)

    from IPython.utils.capture import capture_output

    shell = _shell()
    for line in setup_lines(args.ledger):
        shell.run_line_magic(*line[1:].split(" ", 1))
    print("ready", flush=True)
    if args.go:
        deadline = time.monotonic() + 120
        while not os.path.exists(args.go):
            if time.monotonic() > deadline:
                print("error: no go signal", flush=True)
                return 3
            time.sleep(0.005)
    for i in range(args.cells):
        if args.rss_after is not None and i == args.rss_after:
            _print_rss()
        with capture_output():
            res = shell.run_cell(f"%%ecolyze -l {args.label}-{i}\nx = {i}\nx")
        if not res.success or res.result != i:
            print(f"error in cell {i}: {res.error_before_exec or res.error_in_exec!r}", flush=True)
            return 3
        if not args.quiet_progress:
            print(f"done {i}", flush=True)
    if args.rss_after is not None:
        _print_rss()
    if args.long:
        print("long", flush=True)
        with capture_output():
            shell.run_cell("%%ecolyze -l long\nimport time\ntime.sleep(60)")
    print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
