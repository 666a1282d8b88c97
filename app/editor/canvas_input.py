"""Mouse and keyboard on the canvas that NodeGraphQt does not do our way.

* Tab opens the quick search (Qt would otherwise move the focus away);
* a click near an edge, or on its label, selects that connection (the edge
  itself is a ~2 px target);
* the right-click menu is ours: it acts on the document (so canvas and
  document cannot drift apart) and offers our undo, never NodeGraphQt's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QMouseEvent, QPainterPath, QPainterPathStroker
from PySide6.QtWidgets import QMenu

from app.editor.quick_search import QuickSearch

if TYPE_CHECKING:  # pragma: no cover
    from app.editor.canvas import Canvas

#: How close (in screen pixels) a click must be to an edge to select it.
EDGE_PICK_PX = 8.0


class CanvasInput(QObject):
    """Event filter on the NodeGraphQt viewer and its viewport."""

    def __init__(self, canvas: Canvas) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.viewer = canvas.graph.viewer()
        from app.editor.canvas import NODE_CLASSES

        # a top-level popup: as the viewer's child it would take NodeGraphQt's dark style
        self.search = QuickSearch([(c.NODE_NAME, (c.__doc__ or "").strip(), c)
                                   for c in NODE_CLASSES])
        self.search.chosen.connect(self._search_chosen)
        self._search_scene_pos = QPointF()
        self.menu: QMenu | None = None
        self.viewer.installEventFilter(self)
        self.viewer.viewport().installEventFilter(self)

    # ---- Tab search ----------------------------------------------------
    def open_search(self, view_pos: QPoint | None = None) -> QuickSearch:
        """Show the quick search at ``view_pos`` (default: the cursor, or the centre)."""
        vp = self.viewer.viewport()
        if view_pos is None:
            view_pos = vp.mapFromGlobal(self.viewer.cursor().pos())
            if not vp.rect().contains(view_pos):
                view_pos = vp.rect().center()
        self._search_scene_pos = self.viewer.mapToScene(view_pos)
        self.search.popup(vp.mapToGlobal(view_pos))
        return self.search

    def _search_chosen(self, cls: Any) -> None:
        p = self._search_scene_pos
        self.canvas.add_node(cls, (p.x(), p.y()))

    # ---- edges ---------------------------------------------------------
    def connection_near(self, view_pos: QPoint) -> str | None:
        """Id of the connection whose edge or label is within EDGE_PICK_PX of ``view_pos``."""
        scene_pos = self.viewer.mapToScene(view_pos)
        labels = {item: cid for cid, item in self.canvas._labels.items()}
        for item in self.viewer.items(view_pos):
            if item in labels:
                return labels[item]
        scale = max(1e-6, self.viewer.transform().m11())
        stroker = QPainterPathStroker()
        stroker.setWidth(2 * EDGE_PICK_PX / scale)
        by_pair = {(c.source, c.target): c.id for c in self.canvas.ctl.project.connections}
        best: tuple[float, str] | None = None
        for pair, pipe in self.canvas._pipes().items():
            path: QPainterPath = pipe.path()
            if pair not in by_pair or not stroker.createStroke(path).contains(scene_pos):
                continue
            d = _distance(path, scene_pos)
            if best is None or d < best[0]:
                best = (d, by_pair[pair])
        return best[1] if best else None

    def _on_node(self, view_pos: QPoint) -> Any:
        """The node item (or its port) under ``view_pos``, if any."""
        from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
        from NodeGraphQt.qgraphics.port import PortItem

        for item in self.viewer.items(view_pos):
            while item is not None:
                if isinstance(item, (AbstractNodeItem, PortItem)):
                    return item
                item = item.parentItem()
        return None

    # ---- context menu --------------------------------------------------
    def context_menu(self, view_pos: QPoint) -> QMenu:
        """Build (not show) the right-click menu for ``view_pos``; selects what
        was clicked, as file managers do."""
        cv = self.canvas
        node_item = self._on_node(view_pos)
        cid = None if node_item is not None else self.connection_near(view_pos)
        if node_item is not None:
            view = getattr(node_item, "node", None) or node_item
            pid = cv._pop_of.get(getattr(view, "id", ""))
            if pid is not None and pid not in cv.selected()[0]:
                cv.select([pid])
        elif cid is not None:
            cv.select([], [cid])
        menu = QMenu(self.viewer)
        menu.setObjectName("canvas_menu")
        pops, conns = cv.selected()
        scene = self.viewer.mapToScene(view_pos)

        def add(text: str, slot: Any, enabled: bool = True) -> QAction:
            act = menu.addAction(text)
            act.triggered.connect(slot)
            act.setEnabled(enabled)
            return act

        if pops or conns:
            what = (f"{len(pops)} population{'s' if len(pops) != 1 else ''}" if pops
                    else f"connection{'s' if len(conns) != 1 else ''}")
            add(f"Delete {what}", cv.delete_selected)
            if pops:
                add("Copy", cv.copy_selected)
                add("Cut", lambda: cv.copy_selected() and cv.delete_selected())
            menu.addSeparator()
        from app.editor.canvas import NODE_CLASSES

        new = menu.addMenu("Add node here")
        for cls in NODE_CLASSES:
            act = new.addAction(cls.NODE_NAME)
            act.triggered.connect(lambda _=False, c=cls: cv.add_node(c, (scene.x(), scene.y())))
        add("Paste", cv.paste, cv.can_paste())
        add("Select all", cv.select_all)
        add("Fit in view", cv.fit)
        menu.addSeparator()
        stack = cv.ctl.undo_stack
        add(f"Undo {stack.undoText()}".strip(), stack.undo, stack.canUndo())
        add(f"Redo {stack.redoText()}".strip(), stack.redo, stack.canRedo())
        return menu

    # ---- events --------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if obj is self.viewer and kind == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Tab and not event.modifiers():
                self.open_search()
                return True
            return False
        if obj is not self.viewer.viewport():
            return False
        if kind == QEvent.Type.ContextMenu:
            if self.menu is not None:
                self.menu.deleteLater()
            self.menu = self.context_menu(event.pos())
            self.menu.popup(event.globalPos())
            return True
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent) \
                and event.button() == Qt.MouseButton.LeftButton \
                and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            pos = event.position().toPoint()
            if self._on_node(pos) is not None:
                return False
            cid = self.connection_near(pos)
            if cid is not None:
                self.canvas.select([], [cid])
                return True
        return False


def _distance(path: QPainterPath, p: QPointF, samples: int = 64) -> float:
    """Approximate distance from ``p`` to ``path`` (sampled along its length)."""
    best = float("inf")
    for i in range(samples + 1):
        q = path.pointAtPercent(i / samples)
        best = min(best, (q.x() - p.x()) ** 2 + (q.y() - p.y()) ** 2)
    return best ** 0.5
