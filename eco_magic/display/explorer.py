"""The comparison explorer: metric, grouping, baseline and quality chosen with ipywidgets, the view redrawn in place.

Two outputs under display ids:

* the **controls** (a ``VBox`` of dropdowns, class ``eco-explorer``), shown as a widget view with a ``text/plain``
  line naming the settings;
* the **snapshot**: the comparison's ``text/plain`` + ``text/html`` (:mod:`eco_magic.display.compare_view`), never
  a widget. Each redraw replaces it with ``update_display``, so what stays in the notebook is always the view on
  screen, and it renders when the notebook is reopened or exported, without a kernel or widget state.

The explorer stays live until the next cell runs (IPython's ``pre_run_cell``) or :meth:`Explorer.freeze` is
called: then its widgets are closed and the controls' output is replaced by a static line naming the settings
(a saved notebook never shows "model not found"). ipywidgets is imported inside functions only.
"""
from __future__ import annotations

from html import escape
from typing import Any, Callable, Mapping, Sequence

from .. import comparison as cmp
from . import svg_chart as svg
from .compare_view import compare_bundle

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Fields offered for grouping, when some row has a value for them.
BY_FIELDS = ("label", "group", "precision", "region", "status", "notebook", "session_id")
NO_QUALITY = "(none)"


def available() -> bool:
    """True in a Jupyter kernel where ipywidgets imports: the explorer can be shown (else the static view)."""
    from .card import in_kernel

    if not in_kernel():
        return False
    try:
        import ipywidgets  # noqa: F401
    except Exception:  # noqa: BLE001 - ImportError, or a broken install: the static view
        return False
    return True


def close_quietly(widget: Any) -> None:
    """Close a widget and its children (frees their comms); never raises."""
    try:
        for child in getattr(widget, "children", ()):
            close_quietly(child)
        widget.close()
    except Exception:  # noqa: BLE001
        pass


def _default_display(data: Mapping[str, Any]) -> str:
    from IPython.display import display

    return display(dict(data), raw=True, display_id=True).display_id


def _default_update(data: Mapping[str, Any], display_id: str) -> None:
    from IPython.display import update_display

    update_display(dict(data), raw=True, display_id=display_id)


class Explorer:
    """An interactive comparison over ``load(all_sessions)`` (a callable returning ledger records).

    ``show`` publishes the controls and the snapshot; changing a control recomputes the comparison and replaces the
    snapshot. ``display`` / ``update`` publish bundles (IPython's by default; tests pass their own).
    """

    def __init__(self, load: Callable[[bool], Sequence[Mapping[str, Any]]], *, metric: str = "energy",
                 by: str = "label", baseline: str | None = None, quality: str | None = None,
                 all_sessions: bool = False, confidence: float = 0.95, can_all_sessions: bool = True,
                 display: Callable[[Mapping[str, Any]], str] | None = None,
                 update: Callable[[Mapping[str, Any], str], None] | None = None) -> None:
        import ipywidgets as W

        self._load = load
        self._display = display or _default_display
        self._update = update or _default_update
        self.confidence = confidence
        self.records = list(load(all_sessions))
        self.comparison = cmp.compare(self.records, metric, by, baseline, quality, confidence=confidence)
        self.controls_id: str | None = None
        self.snapshot_id: str | None = None
        self.live = False
        self.error = ""
        self._busy = False
        self._shell = None
        layout = W.Layout(width="auto", margin="2px 12px 2px 0")
        style = {"description_width": "initial"}
        self.metric = W.Dropdown(description="metric", layout=layout, style=style)
        self.by = W.Dropdown(description="group by", layout=layout, style=style)
        self.baseline = W.Dropdown(description="baseline", layout=layout, style=style)
        self.quality = W.Dropdown(description="quality", layout=layout, style=style)
        self.all_sessions = W.Checkbox(value=all_sessions, description="all sessions", indent=False,
                                       layout=W.Layout(width="auto", margin="2px 12px 2px 0",
                                                       display="" if can_all_sessions else "none"))
        self.status = W.HTML(value="")
        self._fill_options(metric, by, self.comparison.baseline, quality)
        row = W.HBox([self.metric, self.by, self.baseline, self.quality, self.all_sessions],
                     layout=W.Layout(flex_flow="row wrap"))
        self.box = W.VBox([row, self.status])
        self.box.add_class("eco-explorer")
        for w in (self.metric, self.by, self.baseline, self.quality, self.all_sessions):
            w.observe(self._changed, names="value")

    # --- options -----------------------------------------------------------------------------------------------
    def _fill_options(self, metric: str, by: str, baseline: str | None, quality: str | None) -> None:
        self._busy = True
        try:
            metrics = [m for m in cmp.METRICS.values()
                       if any(cmp._num(r.get(m.field)) is not None for r in self.records)]  # noqa: SLF001
            names = [m.name for m in metrics]
            self.metric.options = [(m.title, m.name) for m in metrics] + (
                [] if metric in names else [(cmp.get_metric(metric).title, metric)])
            self.metric.value = metric
            fields = [f for f in BY_FIELDS if any(r.get(f) not in (None, "") for r in self.records)]
            self.by.options = fields + ([] if by in fields else [by])
            self.by.value = by
            self._fill_baselines(baseline)
            recorded = cmp.recorded_names(self.records)
            self.quality.options = [NO_QUALITY] + recorded + ([quality] if quality and quality not in recorded
                                                              else [])
            self.quality.value = quality or NO_QUALITY
        finally:
            self._busy = False

    def _fill_baselines(self, baseline: str | None) -> None:
        groups = list(dict.fromkeys(cmp.group_key(r.get(self.by.value)) for r in self.records
                                    if r.get("status", "ok") == "ok"))
        self.baseline.options = groups
        if baseline in groups:
            self.baseline.value = baseline
        elif groups:
            self.baseline.value = groups[0]

    # --- redrawing ---------------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        quality = None if self.quality.value in (None, NO_QUALITY) else self.quality.value
        return dict(metric=self.metric.value, by=self.by.value, baseline=self.baseline.value, quality=quality)

    def _changed(self, change) -> None:
        if self._busy:
            return
        owner = change["owner"]
        try:
            if owner is self.all_sessions:
                self.records = list(self._load(bool(self.all_sessions.value)))
                s = self.settings()
                self._fill_options(s["metric"], s["by"], s["baseline"], s["quality"])
            elif owner is self.by:
                self._busy = True
                try:
                    self._fill_baselines(None)
                finally:
                    self._busy = False
            self.redraw()
        except Exception as exc:  # noqa: BLE001 - an explorer error is shown, never raised into the kernel
            self._show_error(str(exc))

    def redraw(self) -> None:
        """Recompute the comparison from the controls and replace the snapshot in place."""
        try:
            self.comparison = cmp.compare(self.records, confidence=self.confidence, **self.settings())
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self.error = ""
        self.status.value = ""
        if self.snapshot_id is not None:
            self._update(compare_bundle(self.comparison), self.snapshot_id)

    def _show_error(self, message: str) -> None:
        self.error = message
        self.status.value = f"<span style='color:{svg.WORSE};font-size:12px'>{escape(message, quote=False)}</span>"

    # --- showing and freezing ----------------------------------------------------------------------------------
    def settings_line(self) -> str:
        s = self.settings()
        quality = f", quality {s['quality']}" if s["quality"] else ""
        scope = ", all sessions" if self.all_sessions.value else ""
        return f"compare explorer: {s['metric']} by {s['by']}, baseline {s['baseline']}{quality}{scope}"

    def show(self, shell: Any = None) -> None:
        """Publish the controls and the snapshot; freeze when ``shell`` runs its next cell."""
        view = self.box._repr_mimebundle_()[WIDGET_MIME]
        self.controls_id = self._display({WIDGET_MIME: view, "text/plain": self.settings_line()})
        self.snapshot_id = self._display(compare_bundle(self.comparison))
        self.live = True
        if shell is not None:
            self._shell = shell
            shell.events.register("pre_run_cell", self._on_next_cell)

    def _on_next_cell(self, *_info) -> None:
        self.freeze()

    def freeze(self) -> None:
        """Close the widgets and leave a static line in place of the controls (idempotent, never raises)."""
        if not self.live:
            return
        self.live = False
        if self._shell is not None:
            try:
                self._shell.events.unregister("pre_run_cell", self._on_next_cell)
            except ValueError:
                pass
            self._shell = None
        line = self.settings_line()
        try:
            if self.controls_id is not None:
                self._update({"text/plain": line, "text/html": f"<div class='eco-explorer-frozen' style="
                                                               f"'font-size:11px;color:{svg.MUTED}'>"
                                                               f"{escape(line)} (run the cell again to explore)"
                                                               "</div>"}, self.controls_id)
        except Exception:  # noqa: BLE001
            pass
        close_quietly(self.box)


def explore(ledger, *, metric: str = "energy", by: str = "label", baseline: str | None = None,
            quality: str | None = None, all_sessions: bool = False, confidence: float = 0.95,
            shell: Any = None) -> Explorer:
    """Show an :class:`Explorer` over ``ledger``'s rows (validating the settings first: ``ValueError``)."""
    def load(every: bool):
        return ledger.records(all_sessions=every)

    ex = Explorer(load, metric=metric, by=by, baseline=baseline, quality=quality, all_sessions=all_sessions,
                  confidence=confidence, can_all_sessions=ledger.path is not None)
    ex.show(shell)
    return ex
