"""IPython glue for ``%ecoledger``: show, compare, export and clear the ledger of measured cells.

The views live in :mod:`eco_magic.display.compare` (the table) and :mod:`eco_magic.display.compare_view` /
:mod:`eco_magic.display.explorer` (the comparison, from :mod:`eco_magic.comparison`), the file formats in
:mod:`eco_magic.exporters`; this module parses the line, picks the rows and shows one bundle, the explorer, or one
confirmation line.
"""
from __future__ import annotations

import os
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from . import magics_registry
from .display.compare import plural
from .session_ledger import Ledger, LedgerError, current_ledger

SUBCOMMANDS = ("compare", "export", "clear")
METRIC_NAMES = ("energy", "co2", "water", "ess", "duration", "energy_per_token", "energy_per_item", "embodied")
USAGE = ("usage: %ecoledger [--all] [--last N] | %ecoledger compare [--by FIELD] [--metric "
         + "|".join(METRIC_NAMES) + "] [--baseline GROUP] [--quality VAR] [--confidence 0.95] [--static] [--all] | "
         "%ecoledger export PATH [--format csv|json|codecarbon] [--all] | %ecoledger clear [--all]")
TOTALS_FIELDS = ("duration_s", "energy_j", "co2_g", "water_l", "session_id")
_FORMAT_NOTE = {"csv": "CSV", "json": "JSON", "codecarbon": "CodeCarbon emissions.csv columns"}


@magics_class
class LedgerMagics(Magics):
    """``%ecoledger``: the ledger of cells measured with ``%%ecolyze``."""

    @magic_arguments()
    @argument("command", nargs="?", default=None,
              help="Nothing: show the ledger. 'compare': each group's mean with its 95 %% interval, and its ratio "
                   "to a baseline with an interval and a verdict (an explorer in JupyterLab). "
                   "'export PATH': write the rows to a .csv or .json file. 'clear': forget rows.")
    @argument("path", nargs="?", default=None, help="File to write, for export (.csv or .json).")
    @argument("--all", dest="all_sessions", action="store_true",
              help="Include earlier sessions' rows from the ledger file (clear: delete every row).")
    @argument("--last", default=None, help="Show only the last N rows of the table (default 50; 0 shows all).")
    @argument("--by", default=None, help="compare: the field that names a group (default label).")
    @argument("--metric", default=None, choices=list(METRIC_NAMES),
              help="compare: the figure to compare (default energy).")
    @argument("--baseline", default=None, help="compare: the group the others are measured against "
                                                "(default the first group with a value).")
    @argument("--quality", default=None,
              help="compare: a variable recorded with %%%%ecolyze --record, shown against the cost with the "
                   "Pareto front and each group's quality retention against the baseline.")
    @argument("--confidence", default=None,
              help="compare: confidence level of the intervals (default 0.95).")
    @argument("--static", action="store_true",
              help="compare: show the view only, without the interactive controls.")
    @argument("--format", dest="fmt", default=None, choices=["csv", "json", "codecarbon"],
              help="export: file format; default from the suffix. 'codecarbon' writes CodeCarbon's "
                   "emissions.csv columns and units (kWh, kg, W, s).")
    @line_magic
    def ecoledger(self, line: str = ""):
        """Show, compare, export or clear the ledger of cells measured with ``%%ecolyze``.

        ``%ecoledger`` shows this session's cells with totals (``--all``: every session in the ledger file);
        ``%ecoledger compare --by label --metric energy --baseline fp32 [--quality accuracy]`` compares groups of
        cells: each group's mean with its 95 % interval, its ratio to the baseline with an interval and a verdict
        ("higher", "lower", "no detectable difference", "too few runs"); in JupyterLab the settings are controls
        that redraw the view in place. ``%ecoledger export runs.csv [--format codecarbon]`` writes a file; ``%ecoledger clear`` forgets
        this session's rows (``--all``: every row). The same rows are in
        ``eco_magic.ledger().to_dataframe(all_sessions=True)``.
        """
        args = self._parse(line)
        if args.command is not None and args.command not in SUBCOMMANDS:
            raise UsageError(f"unknown %ecoledger subcommand {args.command!r}; {USAGE}")
        self._check_flags(args)
        ledger = current_ledger()
        if args.command == "compare":
            return self._compare(ledger, args)
        if args.command == "export":
            return self._export(ledger, args)
        if args.command == "clear":
            return self._clear(ledger, args)
        return self._show(ledger, args)

    # --- parsing ----------------------------------------------------------------------------------------------
    def _parse(self, line: str):
        try:
            return self.ecoledger.parser.parse_args(split_line(line))
        except UsageError as exc:
            raise UsageError(f"{exc}; {USAGE}") from None
        except (ValueError, SystemExit) as exc:  # shlex errors (unbalanced quotes), argparse exits
            raise UsageError(f"could not read {line!r}: {exc}; {USAGE}") from None

    @staticmethod
    def _check_flags(args) -> None:
        misplaced = {
            "--by": (args.by, "compare"), "--metric": (args.metric, "compare"),
            "--baseline": (args.baseline, "compare"), "--format": (args.fmt, "export"),
            "--quality": (args.quality, "compare"), "--confidence": (args.confidence, "compare"),
            "--static": (args.static or None, "compare"),
            "--last": (args.last, None),
        }
        for flag, (value, needs) in misplaced.items():
            if value is not None and args.command != needs:
                where = f"%ecoledger {needs}" if needs else "%ecoledger (the table)"
                raise UsageError(f"{flag} belongs to {where}; {USAGE}")
        if args.path is not None and args.command != "export":
            raise UsageError(f"unexpected argument {args.path!r}; {USAGE}")
        if args.command == "export" and not args.path:
            raise UsageError(f"%ecoledger export needs a file name, e.g. %ecoledger export runs.csv; {USAGE}")

    # --- subcommands ------------------------------------------------------------------------------------------
    def _show(self, ledger: Ledger, args) -> None:
        from .display.compare import EMPTY_HINT, ledger_bundle

        last = 50
        if args.last is not None:
            try:
                last = int(args.last)
            except ValueError:
                raise UsageError(f"--last takes a whole number of rows, not {args.last!r}") from None
            if last < 0:
                raise UsageError("--last takes a whole number of rows ≥ 0 (0 shows all)")
        with _file_errors(ledger, "--all" if args.all_sessions else None):
            every = ledger.fields(TOTALS_FIELDS, all_sessions=args.all_sessions)  # column reads: cheap
            shown = ledger.recent(last or len(every), all_sessions=args.all_sessions)
        hint = EMPTY_HINT
        if not every and not args.all_sessions:
            try:
                earlier = ledger.count(all_sessions=True)
            except LedgerError as exc:
                hint = f"{EMPTY_HINT} (earlier sessions cannot be read: {exc})"
            else:
                if earlier:
                    hint = f"{EMPTY_HINT} (%ecoledger --all shows {plural(earlier, 'row')} of earlier sessions)"
        _display(ledger_bundle(shown, all_sessions=args.all_sessions, last=last or None, hint=hint,
                               totals_of=every))

    def _compare(self, ledger: Ledger, args) -> None:
        from .comparison import compare_ledger
        from .display.compare_view import compare_bundle
        from .display.explorer import available

        confidence = 0.95
        if args.confidence is not None:
            try:
                confidence = float(args.confidence)
            except ValueError:
                raise UsageError(f"--confidence takes a fraction such as 0.95, not {args.confidence!r}") from None
        options = dict(metric=args.metric or "energy", by=args.by or "label", baseline=args.baseline,
                       quality=args.quality, all_sessions=args.all_sessions)
        try:
            with _file_errors(ledger, "compare --all" if args.all_sessions else "compare"):
                result = compare_ledger(ledger, confidence=confidence, **options)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if result.groups and not args.static and available():
            from .display.explorer import explore

            try:
                explore(ledger, confidence=confidence, shell=self.shell, **options)
                return
            except Exception:  # noqa: BLE001 - a widget failure leaves the static view, never an error
                pass
        _display(compare_bundle(result))

    def _export(self, ledger: Ledger, args) -> None:
        from . import exporters

        path = os.path.expanduser(args.path)
        try:
            fmt = exporters.resolve_format(path, args.fmt)
            with _file_errors(ledger, "export --all" if args.all_sessions else "export"):
                n = ledger.export(path, fmt, all_sessions=args.all_sessions)
        except exporters.ExportError as exc:
            raise UsageError(str(exc)) from None
        scope = "all sessions" if args.all_sessions else "this session"
        print(f"exported {plural(n, 'row')} of {scope} to {args.path} ({_FORMAT_NOTE[fmt]})")

    def _clear(self, ledger: Ledger, args) -> None:
        in_memory = len(ledger)
        if args.all_sessions:
            with _file_errors(ledger, "clear --all", "nothing was cleared"):
                removed = ledger.clear(all_sessions=True)
        else:
            try:
                removed = ledger.clear()
            except LedgerError as exc:
                print(f"cleared {plural(in_memory, 'row')} of this session in memory; the ledger file was not "
                      f"changed: {exc}")
                return
        if args.all_sessions:
            n = removed if ledger.path is not None else in_memory
            where = f" ({ledger.path})" if ledger.path is not None else ""
            print(f"cleared {plural(n, 'row')} of all sessions{where}")
        else:
            n = max(removed, in_memory)
            print(f"cleared {plural(n, 'row')} of this session")


def split_line(line: str) -> list[str]:
    """The words of a magic line as a shell would split them: quotes group words (``export "a b.csv"``) and are
    removed; backslashes are kept as they are (Windows paths)."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    return list(lexer)


class _file_errors:
    """Turns a :class:`LedgerError` from the ledger file into a one-line ``UsageError`` naming the subcommand."""

    def __init__(self, ledger: Ledger, what: str | None, outcome: str = "") -> None:
        self.ledger, self.what, self.outcome = ledger, what, outcome

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, LedgerError):
            where = f"%ecoledger {self.what}" if self.what else "%ecoledger"
            n = len(self.ledger)
            tail = self.outcome or (f"this session's {plural(n, 'row')} are in memory: %ecoledger shows them"
                                    if self.what and "--all" in self.what else "")
            raise UsageError(f"{where}: {exc}" + (f"; {tail}" if tail else "")) from None
        return False


def _display(bundle: dict) -> None:
    from IPython.display import display

    display(bundle, raw=True)


_REGISTERED: dict[int, LedgerMagics] = {}


def register(ipython) -> None:
    """Add ``%ecoledger`` to ``ipython`` (idempotent)."""
    magics_registry.register(ipython, LedgerMagics, _REGISTERED)


def unregister(ipython) -> None:
    """Remove ``%ecoledger`` from ``ipython`` again (no-op when it was not registered)."""
    magics_registry.unregister(ipython, _REGISTERED)
