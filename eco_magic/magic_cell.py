"""IPython glue, part two: running a measured cell exactly as IPython would run it without the magic.

* :func:`compile_cell` compiles like ``%%time`` (statements, then the last expression, which becomes ``Out[n]``).
* :class:`CellJob` runs the cell once or ``--repeat`` times on :func:`eco_magic.series.series`, shows the live readout
  and the card, and keeps the cell's outcome: its value, its exception, its side effects.
* :class:`Transformer` (an ``input_transformers_post`` hook) makes two things behave as without the magic:
  a cell with top-level ``await`` is run by IPython's own async machinery (the magic call becomes an awaited
  coroutine), and a cell with a ``SyntaxError`` is handed to IPython's compiler so the error shows without
  eco_magic's frames.
"""
from __future__ import annotations

import ast
import functools
import inspect
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

from . import api, series
from .user_values import describe_exception
from .display import card

_AWAIT_FLAG = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


@dataclass
class Compiled:
    body: Any
    last: Any
    suppress: bool


def compile_cell(shell, code: str, *, allow_await: bool = False) -> Compiled:
    """Compile like ``%%time``: all statements, then the last expression separately (it becomes Out[n])."""
    source = shell.transform_cell(code)
    running = getattr(shell.displayhook, "exec_result", None)  # the cell being run: tracebacks say In[n]
    filename = shell.compile.cache(source, getattr(running, "execution_count", None) or shell.execution_count)
    tree = shell.transform_ast(shell.compile.ast_parse(source, filename=filename))
    last = None
    flags = _AWAIT_FLAG if allow_await else 0
    with shell.compile.extra_flags(flags):
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = shell.compile(ast.Expression(tree.body.pop().value), filename, "eval")
        body = shell.compile(ast.Module(tree.body, type_ignores=[]), filename, "exec")
    return Compiled(body, last, shell.displayhook.semicolon_at_end_of_expression(source))


def _is_coroutine_code(code) -> bool:
    return code is not None and bool(code.co_flags & inspect.CO_COROUTINE)


def run_sync(c: Compiled, glob: dict, ns) -> Any:
    __tracebackhide__ = True  # noqa: F841
    exec(c.body, glob, ns)
    return eval(c.last, glob, ns) if c.last is not None else None


async def run_async(c: Compiled, glob: dict, ns) -> Any:
    __tracebackhide__ = True  # noqa: F841
    out = eval(c.body, glob, ns)
    if _is_coroutine_code(c.body):
        await out
    if c.last is None:
        return None
    value = eval(c.last, glob, ns)
    return (await value) if _is_coroutine_code(c.last) else value


async def drive_async(steps, call: Callable[[], Any]):
    __tracebackhide__ = True  # noqa: F841
    try:
        next(steps)
        while True:
            try:
                value = await call()
            except BaseException as exc:  # noqa: BLE001
                steps.throw(exc)
            else:
                steps.send(value)
    except StopIteration as stop:
        return stop.value


class CellJob:
    """One ``%%ecolyze`` invocation, options already validated: runs, measures, records, shows."""

    def __init__(self, magics, code: str, *, make: Callable[[int | None, str | None], api.measure], label: str,
                 runs: int, warmup: int, record: tuple[str, ...], var: str | None, quiet: bool,
                 return_result: bool, is_cell: bool, namespace, show: Callable[[Any, Any], None]) -> None:
        self.magics, self.shell, self.code = magics, magics.shell, code
        self.make, self.label = make, label
        self.runs, self.warmup, self.record = runs, warmup, record
        self.var, self.quiet, self.return_result, self.is_cell = var, quiet, return_result, is_cell
        self.namespace = namespace
        self.show = show
        self.handle = None

    # --- the flow, shared by the sync and the async drivers --------------------------------------------------------
    def steps(self):
        """Yields once per run of the cell (warm-up runs included); receives the cell's value or its exception."""
        __tracebackhide__ = True  # noqa: F841
        out = yield from series.series(self.make, runs=self.runs, warmup=self.warmup, on_start=self._live,
                                    before_stop=self._record)
        return self._finish(out)

    suppress = False

    def _live(self, m, index: int) -> None:
        if self.quiet:
            return
        if self.handle is None:
            self.handle = card.begin(self.label, m, m.channels)
        else:
            updater = getattr(self.handle, "updater", None)
            if updater is not None:
                updater.sampler = m

    def _record(self, m, index: int | None = None) -> None:
        """``--record``: the named variables' values after the run (numbers only; the rest noted, left out)."""
        for name in self.record:
            try:
                if name not in self.namespace:
                    m.note(f"recorded {name!r} left out: no variable of that name after the cell")
                    continue
                m.record(**{name: self.namespace[name]})
            except Exception as exc:  # noqa: BLE001 - a hostile value never breaks the recording
                m.note(f"recorded {name!r} left out ({describe_exception(exc)})")

    def _finish(self, out: series.Outcome):
        __tracebackhide__ = True  # noqa: F841
        result = None
        try:
            result = out.aggregate()
        except Exception as exc:  # noqa: BLE001
            print(f"eco_magic could not summarise the runs ({describe_exception(exc)}); each run is in "
                  "the ledger.", file=sys.stderr)
        if result is not None and self.var:
            self.shell.user_ns[self.var] = result
        if result is not None and not self.quiet and not (self.return_result and self.is_cell):
            self.show(result, self.handle)
        else:
            card.cancel(self.handle)
        if out.error is not None:
            raise out.error.with_traceback(out.error.__traceback__)
        if self.return_result:
            return result
        return None if self.suppress else out.value

    # --- drivers -------------------------------------------------------------------------------------------------
    def run(self):
        __tracebackhide__ = True  # noqa: F841
        compiled = compile_cell(self.shell, self.code)  # a SyntaxError is raised before anything is measured
        self.suppress = compiled.suppress
        glob = self.shell.user_global_ns
        try:
            return series.drive(self.steps(), functools.partial(run_sync, compiled, glob, self.namespace))
        finally:
            self._cleanup()

    async def run_async(self):
        __tracebackhide__ = True  # noqa: F841
        compiled = compile_cell(self.shell, self.code, allow_await=True)
        self.suppress = compiled.suppress
        glob = self.shell.user_global_ns
        try:
            return await drive_async(self.steps(), functools.partial(run_async, compiled, glob, self.namespace))
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        """Whatever happened, no live-readout thread outlives the cell."""
        handle = self.handle
        if handle is not None:
            try:
                handle.stop()
            except Exception:  # noqa: BLE001
                pass


# --------------------------------------------------------------------------------------- the input transformer
_MAGIC_CALLS = {"run_cell_magic": "cell", "run_line_magic": "line"}


def _magic_call(node) -> tuple[str, list] | None:
    """``("cell" | "line", args)`` when ``node`` is ``get_ipython().run_*_magic('ecolyze', …)`` with constants."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MAGIC_CALLS and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name) and node.func.value.func.id == "get_ipython"):
        return None
    args = node.args
    if not args or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return None
    if args[0].value != "ecolyze":
        return None
    return _MAGIC_CALLS[node.func.attr], [a.value for a in args[1:]]


class Transformer:
    """``shell.input_transformers_post`` hook; see the module docstring. Leaves every other cell untouched."""

    def __init__(self, shell) -> None:
        self.shell = shell

    def __call__(self, lines: list[str]) -> list[str]:
        cell = "".join(lines)
        if "ecolyze" not in cell:
            return lines
        try:
            return self._transform(cell, lines)
        except Exception:  # noqa: BLE001 - a transformer must never break a cell
            return lines

    def _transform(self, cell: str, lines: list[str]) -> list[str]:
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            return lines
        edits = []
        for stmt, in_async_def in _awaitable_statements(tree.body):
            value = getattr(stmt, "value", None)
            found = _magic_call(value)
            if found is None:
                continue
            kind, args = found
            if kind == "cell" and len(args) == 2:
                opts, code = args
                source = self.shell.transform_cell(code)
                try:
                    compiled = compile(source, "<cell>", "exec", flags=_AWAIT_FLAG)
                except SyntaxError:
                    if len(tree.body) == 1:  # the whole cell: let IPython's compiler report it, as without the magic
                        return ["\n", *source.splitlines(keepends=True)]
                    continue
            elif kind == "line" and len(args) == 1:
                from . import options as opt

                try:
                    opts, code = opt.split_line(args[0])
                    compiled = compile(self.shell.transform_cell(code), "<cell>", "exec", flags=_AWAIT_FLAG)
                except (ValueError, SyntaxError):
                    continue
            else:
                continue
            if (in_async_def or getattr(self.shell, "autoawait", False)) and _is_coroutine_code(compiled):
                line, body = (opts, code) if kind == "cell" else (args[0], None)
                scope = "" if kind == "cell" else ", locals()"  # the line form sees an async def's locals
                call = (f"(await __import__('eco_magic.magic_cell', fromlist=['_']).run_magic_async("
                        f"get_ipython(), {line!r}, {body!r}{scope}))")
                edits.append((value, call))
        if not edits:
            return lines
        return _lines(_splice(cell, edits))


#: blocks whose statements run in the enclosing scope (``cases``: ``match``; ``handlers``: ``except``)
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _awaitable_statements(body: list, in_async_def: bool = False):
    """``(statement, in_async_def)`` for every statement where ``await`` may stand: the cell's top-level scope
    (with ``%autoawait``), its ``for``/``while``/``if``/``with``/``try``/``match`` blocks included (``for x in xs:\\n
    %ecolyze await f(x)``), and the body of an ``async def``; not the body of a plain ``def``, a ``class`` or a
    lambda."""
    for stmt in body:
        yield stmt, in_async_def
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            continue
        inner_async = in_async_def or isinstance(stmt, ast.AsyncFunctionDef)
        for name in _BLOCK_FIELDS:
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):  # statements, or except handlers / match cases holding statements
                yield from _awaitable_statements([s for s in inner if isinstance(s, ast.AST)], inner_async)


def _lines(text: str) -> list[str]:
    """``text`` split after each newline as Python's parser counts them (``\\r\\n``, ``\\r``, ``\\n``): not
    ``str.splitlines``, which also splits at U+2028, form feeds and other separators a string literal may hold."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def _splice(cell: str, edits: list) -> str:
    """Replace each node's source text in ``cell`` by its new text (nodes from ``ast.parse(cell)``)."""
    starts = [0]
    for line in _lines(cell):
        starts.append(starts[-1] + len(line.encode("utf-8")))
    raw = cell.encode("utf-8")
    out, pos = [], 0
    for node, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset)):
        a = starts[node.lineno - 1] + node.col_offset
        b = starts[node.end_lineno - 1] + node.end_col_offset
        out.append(raw[pos:a].decode("utf-8"))
        out.append(text)
        pos = b
    out.append(raw[pos:].decode("utf-8"))
    return "".join(out)


async def run_magic_async(shell, line: str, cell: str | None, local_ns=None):
    """What a transformed ``%%ecolyze`` / ``%ecolyze`` with ``await`` calls (awaited in the kernel's loop).

    ``local_ns``: the line form's ``locals()`` (the user namespace at top level, an ``async def``'s locals inside
    one), as IPython gives a line magic that needs the local scope."""
    __tracebackhide__ = True  # noqa: F841
    from .magic import _LOADED

    magics = _LOADED.get(id(shell))
    if magics is None:  # unloaded meanwhile: run the code as it is
        from . import options as opt

        code = cell if cell is not None else opt.split_line(line)[1]
        ns = shell.user_ns if local_ns is None else local_ns
        return await run_async(compile_cell(shell, code, allow_await=True), shell.user_global_ns, ns)
    return await magics.job(line, cell, local_ns).run_async()
