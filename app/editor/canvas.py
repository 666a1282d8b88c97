"""The node canvas: a NodeGraphQt view of the project document.

The canvas never owns data.  User gestures on it (creating a node from the
palette or Tab search, connecting ports, moving, deleting) become document
edits through the controller; every document change is then drawn back by
:meth:`Canvas.sync`, which maps our stable population/connection ids to
NodeGraphQt's per-session node ids.
"""
from __future__ import annotations

import json
from typing import Any

import shiboken6
from NodeGraphQt import BaseNode, NodeGraph
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QTextOption
from PySide6.QtWidgets import QApplication, QGraphicsSimpleTextItem

from app.editor import qt  # noqa: F401  (sets QT_PREFERRED_BINDING first)
from app.editor.controller import DocumentController
from app.project import schema
from app.project.document import (
    ConnectionSpec,
    PopulationSpec,
    Project,
    parse_connection,
    parse_population,
)
from app.project.palette import palette_connection, palette_population
from app.project.validate import Issue

IDENT = "spike_studio"
CLIP_MIME = "application/x-spike-studio-nodes"


class _SpikeNode(BaseNode):
    __identifier__ = IDENT
    MODEL = ""
    ROLE = "neuron"

    def __init__(self) -> None:
        super().__init__()
        if self.ROLE != "input":
            self.add_input("in", multi_input=True)
        self.add_output("out", multi_output=True)


class InputNode(_SpikeNode):
    """Spike input (data replayed as spikes)."""

    NODE_NAME = "Input"
    MODEL = "SpikeInput"
    ROLE = "input"


class PoissonInputNode(_SpikeNode):
    """Poisson input (rates)."""

    NODE_NAME = "Poisson input"
    MODEL = "PoissonInput"
    ROLE = "input"


class LIFNode(_SpikeNode):
    """Leaky integrate-and-fire population."""

    NODE_NAME = "LIF"
    MODEL = "LeakyIntegrateFire"


class ALIFNode(_SpikeNode):
    """Adaptive LIF population."""

    NODE_NAME = "ALIF"
    MODEL = "AdaptiveLeakyIntegrateFire"


class OutputNode(_SpikeNode):
    """Leaky integrator output population (with a readout)."""

    NODE_NAME = "LeakyIntegrate output"
    MODEL = "LeakyIntegrate"


class IFInputNode(_SpikeNode):
    """Integrate-and-fire input driven by values (converted ANNs)."""

    NODE_NAME = "IF input"
    MODEL = "IntegrateFireInput"
    ROLE = "input"


class IFNode(_SpikeNode):
    """Non-leaky integrate-and-fire population (converted ANNs, inference)."""

    NODE_NAME = "Integrate-and-fire"
    MODEL = "IntegrateFire"


NODE_CLASSES: list[type[_SpikeNode]] = [InputNode, PoissonInputNode, LIFNode, ALIFNode,
                                        OutputNode, IFInputNode, IFNode]


def _schema_node(model: str, role: str) -> type[_SpikeNode]:
    """A node class for a neuron model of the schema that has no hand-written one,
    so a model added to :mod:`app.project.schema` appears on the canvas as is."""
    label = schema.MODEL_LABELS.get(model, model)
    return type(f"{model}Node", (_SpikeNode,), {
        "__doc__": f"{label} population.", "NODE_NAME": label, "MODEL": model,
        "ROLE": "input" if role == "input" else "neuron"})


NODE_CLASSES += [_schema_node(m, role) for m, (role, _) in schema.NEURON_MODELS.items()
                 if m not in {c.MODEL for c in NODE_CLASSES}]
NODE_BY_MODEL = {c.MODEL: c for c in NODE_CLASSES}
ROLE_COLORS = {"input": (38, 120, 110), "neuron": (45, 85, 150), "output": (170, 100, 30)}
PROBLEM_COLOR = (170, 40, 40)
#: Canvas colours per theme: background, grid, edge label text, edge label with a problem.
CANVAS_THEMES = {
    "dark": {"background": (35, 35, 35), "grid": (45, 45, 45), "label": (200, 200, 200),
             "problem": (255, 120, 120)},
    "light": {"background": (236, 238, 242), "grid": (214, 218, 225), "label": (40, 40, 48),
              "problem": (180, 30, 30)},
}
#: Free space kept between automatically placed nodes (scene units).
PLACE_GAP = 40.0
#: Gap between a node and the next one placed to its right: room for the edge label.
EDGE_ROOM = 150.0


def node_type(cls: type[_SpikeNode]) -> str:
    """NodeGraphQt type string of a node class."""
    return f"{IDENT}.{cls.__name__}"


def default_population(project: Project, cls: type[_SpikeNode], pos: tuple[float, float]
                       ) -> PopulationSpec:
    """The population a freshly placed node of class ``cls`` stands for
    (:func:`app.project.palette.palette_population`: sizes and parameters that
    suit the compiler)."""
    return palette_population(project, cls.MODEL, pos)


def default_connection(project: Project, source: str, target: str) -> ConnectionSpec:
    """A new connection (:func:`app.project.palette.palette_connection`): a synapse
    suiting the compiler and initial weights scaled to fan-in, re-derived when a
    population is resized until the user sets them."""
    return palette_connection(project, source, target)


def population_label(pop: PopulationSpec) -> str:
    """Text on a node, one short line each: name, model and size (and readout),
    so the node box grows to hold it instead of the text spilling out."""
    model = schema.MODEL_LABELS.get(pop.model, pop.model)
    readout = f"\n-> {pop.readout}" if pop.readout else ""
    size = "x".join(map(str, pop.shape)) if pop.shape else f"{pop.size:,}"
    return f"{pop.name}\n{model} · {size}{readout}"


def connection_label(conn: ConnectionSpec) -> str:
    """Text on an edge, e.g. ``Dense · Exp 5 ms``."""
    c = conn.connectivity
    kind = c["type"] if c["type"] != "FixedProbability" else f"p={c['p']:g}"
    if "conv_size" in c:
        kind += f" {c['conv_size'][0]}x{c['conv_size'][1]}x{c['filters']}"
    elif "pool_size" in c:
        kind += f" {c['pool_size'][0]}x{c['pool_size'][1]}"
    s = conn.synapse
    syn = "Delta" if s["type"] == "Delta" else f"Exp {s['tau']:g} ms"
    delay = f" · d{c['delay']}" if c.get("delay") else ""
    return f"{kind} · {syn}{delay}"


class Canvas(QObject):
    """Binds a NodeGraphQt graph to a :class:`DocumentController`."""

    selection_changed = Signal()
    message = Signal(str)

    def __init__(self, controller: DocumentController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctl = controller
        self.graph = NodeGraph()
        self.graph.set_acyclic(False)  # recurrent self-connections
        self.graph.register_nodes(NODE_CLASSES)
        self.widget = self.graph.widget
        self.widget.setObjectName("canvas")
        self._syncing = 0
        self._node_of: dict[str, Any] = {}  # population id -> node
        self._pop_of: dict[str, str] = {}  # node id -> population id
        self._labels: dict[str, QGraphicsSimpleTextItem] = {}  # connection id -> label
        self._issues: dict[str, list[Issue]] = {}
        self.theme = "dark"
        g = self.graph
        g.node_created.connect(self._on_node_created)
        g.nodes_deleted.connect(self._on_nodes_deleted)
        g.port_connected.connect(self._on_port_connected)
        g.port_disconnected.connect(self._on_port_disconnected)
        g.node_selection_changed.connect(self._emit_selection)
        viewer = g.viewer()
        # NodeGraphQt binds Ctrl+Z/Ctrl+Y to its own undo stack; ours is the
        # document's, so drop its actions (otherwise the shortcuts are ambiguous).
        # NodeGraphQt's own undo (it records every colour and name we set) must
        # never be reachable: not by shortcut, not from its context menu.
        for act in viewer.findChildren(QAction):
            if act.text() in ("&Undo", "&Redo"):
                act.setShortcuts([])
                viewer.removeAction(act)
                for menu in viewer.context_menus().values():
                    menu.removeAction(act)
        viewer.moved_nodes.connect(self._on_moved)
        viewer.node_name_changed.connect(lambda *_: QTimer.singleShot(0, self.sync))
        viewer.scene().selectionChanged.connect(self._emit_selection)
        controller.changed.connect(self.sync)
        from app.editor.canvas_input import CanvasInput

        self.input = CanvasInput(self)
        self.set_theme("dark")
        self.sync()

    def set_theme(self, name: str) -> None:
        """Light or dark canvas (background, grid, edge labels)."""
        colors = CANVAS_THEMES[name]
        self.theme = name
        self.graph.set_background_color(*colors["background"])
        self.graph.set_grid_color(*colors["grid"])
        self.graph.viewer().viewport().update()
        self._update_edge_labels()

    def _emit_selection(self, *_args: Any) -> None:
        # the scene clears its selection while the window is being destroyed,
        # after this object is gone: ignore that
        if shiboken6.isValid(self):
            self.selection_changed.emit()

    # ---- document -> canvas -------------------------------------------
    def sync(self) -> None:
        """Redraw the canvas from the document."""
        self._syncing += 1
        try:
            self._sync()
        finally:
            self._syncing -= 1

    def _sync(self) -> None:
        project = self.ctl.project
        wanted = {p.id: p for p in project.populations}
        for pid in list(self._node_of):
            node = self._node_of[pid]
            if pid not in wanted or node.MODEL != wanted[pid].model:
                self._pop_of.pop(node.id, None)
                del self._node_of[pid]
                self.graph.delete_node(node, push_undo=False)
        for pop in project.populations:
            node = self._node_of.get(pop.id)
            if node is None:
                cls = NODE_BY_MODEL[pop.model]
                node = self.graph.create_node(node_type(cls), name=pop.name,
                                              pos=list(pop.position), selected=False,
                                              push_undo=False)
                self._node_of[pop.id] = node
                self._pop_of[node.id] = pop.id
            label = population_label(pop)
            problems = [i for i in self._issues.get(pop.id, [])]
            if problems:
                label = "⚠ " + label
            if node.name() != pop.name:
                node.set_property("name", pop.name, push_undo=False)
            _set_label(node, label)
            x, y = node.pos()
            if abs(x - pop.position[0]) > 0.5 or abs(y - pop.position[1]) > 0.5:
                node.set_property("pos", [float(pop.position[0]), float(pop.position[1])],
                                  push_undo=False)
            role = "input" if pop.is_input else "output" if pop.is_output else "neuron"
            color = PROBLEM_COLOR if problems else ROLE_COLORS[role]
            if tuple(node.color()[:3]) != color:
                node.set_property("color", (*color, 255), push_undo=False)
            tip = f"{pop.name}: {schema.MODEL_LABELS[pop.model]}, {pop.size} neurons"
            if problems:
                tip += "\n" + "\n".join(f"⚠ {i.message}" for i in problems)
            node.view.setToolTip(tip)
        # edges
        want_pairs = {(c.source, c.target) for c in project.connections}
        have: set[tuple[str, str]] = set()
        for pid, node in self._node_of.items():
            for target_port in node.output(0).connected_ports():
                tid = self._pop_of.get(target_port.node().id)
                if tid is None or (pid, tid) not in want_pairs:
                    node.output(0).disconnect_from(target_port, push_undo=False)
                else:
                    have.add((pid, tid))
        for c in project.connections:
            if (c.source, c.target) not in have:
                src, tgt = self._node_of[c.source], self._node_of[c.target]
                src.output(0).connect_to(tgt.input(0), push_undo=False)
        self._update_edge_labels()
        # only the document's undo exists; cleared after any NodeGraphQt macro ends
        QTimer.singleShot(0, self._clear_graph_undo)

    def _clear_graph_undo(self) -> None:
        if shiboken6.isValid(self.graph.undo_stack()):
            self.graph.undo_stack().clear()

    def _pipes(self) -> dict[tuple[str, str], Any]:
        out = {}
        for item in self.graph.viewer().scene().items():
            if type(item).__name__ != "PipeItem":
                continue
            ip, op = item.input_port, item.output_port
            if ip is None or op is None:
                continue
            src = self._pop_of.get(op.node.id)
            tgt = self._pop_of.get(ip.node.id)
            if src and tgt:
                out[(src, tgt)] = item
        return out

    def _update_edge_labels(self) -> None:
        project = self.ctl.project
        pipes = self._pipes()
        scene = self.graph.viewer().scene()
        live = set()
        for c in project.connections:
            pipe = pipes.get((c.source, c.target))
            if pipe is None:
                continue
            live.add(c.id)
            label = self._labels.get(c.id)
            if label is None or label.scene() is None:
                label = QGraphicsSimpleTextItem()
                label.setFont(QFont("Sans", 8))
                label.setZValue(10)
                scene.addItem(label)
                self._labels[c.id] = label
            problems = self._issues.get(c.id, [])
            text = ("⚠ " if problems else "") + connection_label(c)
            label.setText(text)
            colors = CANVAS_THEMES[self.theme]
            label.setBrush(QColor(*colors["problem"] if problems else colors["label"]))
            tip = f"{c.name}: {text}" + "".join(f"\n⚠ {i.message}" for i in problems)
            label.setToolTip(tip)
            pipe.setToolTip(tip)
            if c.is_recurrent:  # the loop is drawn under the node: label below it
                r = pipe.path().boundingRect()
                pt = QPointF(r.center().x() - label.boundingRect().width() / 2, r.bottom() + 2)
            else:
                mid = pipe.path().pointAtPercent(0.5)
                pt = QPointF(mid.x() - label.boundingRect().width() / 2, mid.y() - 16)
            label.setPos(pt)
        for cid in list(self._labels):
            if cid not in live:
                item = self._labels.pop(cid)
                if item.scene() is not None:
                    scene.removeItem(item)

    def set_issues(self, issues: list[Issue]) -> None:
        """Show validation badges on the nodes and edges the issues concern."""
        by_target: dict[str, list[Issue]] = {}
        for i in issues:
            if i.target:
                by_target.setdefault(i.target, []).append(i)
        if by_target != self._issues:
            self._issues = by_target
            self.sync()

    def issues_for(self, target: str) -> list[Issue]:
        """Issues shown on a population or connection."""
        return list(self._issues.get(target, []))

    # ---- canvas -> document -------------------------------------------
    def _on_node_created(self, node: Any) -> None:
        if self._syncing or not isinstance(node, _SpikeNode):
            return
        project = self.ctl.project
        want = (float(node.pos()[0]), float(node.pos()[1]))
        pop = default_population(project, type(node), want)
        _set_label(node, population_label(pop))  # its final size, before placing it
        pop.position = self.free_position(want, node)
        if pop.position != want:
            node.set_property("pos", list(pop.position), push_undo=False)
        self._node_of[pop.id] = node
        self._pop_of[node.id] = pop.id
        self.ctl.edit(f"Add {node.NODE_NAME}", lambda p: p.populations.append(pop))
        self.select([pop.id])

    def _on_nodes_deleted(self, node_ids: list[str]) -> None:
        if self._syncing:
            return
        pids = [self._pop_of[n] for n in node_ids if n in self._pop_of]
        for n in node_ids:
            pid = self._pop_of.pop(n, None)
            if pid is not None:
                self._node_of.pop(pid, None)
        if pids:
            self.ctl.edit("Delete", lambda p: remove_items(p, pids, []))
        self.sync()

    def _on_port_connected(self, in_port: Any, out_port: Any) -> None:
        if self._syncing:
            return
        src = self._pop_of.get(out_port.node().id)
        tgt = self._pop_of.get(in_port.node().id)
        project = self.ctl.project
        if src is None or tgt is None:
            return
        if any(c.source == src and c.target == tgt for c in project.connections):
            return
        if project.population(tgt).is_input:
            self.message.emit("An input population cannot receive connections")
            QTimer.singleShot(0, self.sync)
            return
        conn = default_connection(project, src, tgt)
        self.ctl.edit("Connect", lambda p: p.connections.append(conn))

    def _on_port_disconnected(self, in_port: Any, out_port: Any) -> None:
        if self._syncing:
            return
        src = self._pop_of.get(out_port.node().id)
        tgt = self._pop_of.get(in_port.node().id)
        ids = [c.id for c in self.ctl.project.connections if c.source == src and c.target == tgt]
        if ids:
            self.ctl.edit("Disconnect", lambda p: remove_items(p, [], ids))

    def _on_moved(self, moved: dict) -> None:
        positions = {}
        for view in moved:
            pid = self._pop_of.get(view.id)
            if pid is not None:
                positions[pid] = (float(view.xy_pos[0]), float(view.xy_pos[1]))

        def move(p: Project) -> None:
            for pop in p.populations:
                if pop.id in positions:
                    pop.position = positions[pop.id]

        if positions:
            self.ctl.edit("Move", move)
        self._update_edge_labels()

    # ---- selection ----------------------------------------------------
    def selected(self) -> tuple[list[str], list[str]]:
        """(population ids, connection ids) selected on the canvas."""
        pops = [self._pop_of[n.id] for n in self.graph.selected_nodes() if n.id in self._pop_of]
        conns = []
        pipes = {v: k for k, v in self._pipes().items()}
        labels = {v: k for k, v in self._labels.items()}
        by_pair = {(c.source, c.target): c.id for c in self.ctl.project.connections}
        for item in self.graph.viewer().scene().selectedItems():
            if item in pipes and pipes[item] in by_pair:
                conns.append(by_pair[pipes[item]])
            elif item in labels:
                conns.append(labels[item])
        return pops, conns

    def select(self, pop_ids: list[str], conn_ids: list[str] | None = None) -> None:
        """Select populations (and connections) on the canvas; nothing else stays
        selected (NodeGraphQt's clear_selection leaves edges selected)."""
        self.graph.clear_selection()
        for item in self.graph.viewer().scene().selectedItems():
            item.setSelected(False)
        for pid in pop_ids:
            if pid in self._node_of:
                self._node_of[pid].set_selected(True)
        pipes = self._pipes()
        for cid in conn_ids or []:
            for c in self.ctl.project.connections:
                if c.id == cid and (c.source, c.target) in pipes:
                    pipes[(c.source, c.target)].setSelected(True)
        self.selection_changed.emit()

    def node(self, pop_id: str) -> Any:
        """The NodeGraphQt node drawing a population."""
        return self._node_of[pop_id]

    def label(self, pop_id: str) -> str:
        """The text shown on a population's node."""
        return self._node_of[pop_id].view.text_item.toPlainText()

    def population_of(self, node: Any) -> str:
        """Population id of a NodeGraphQt node."""
        return self._pop_of[node.id]

    # ---- commands -----------------------------------------------------
    def add_node(self, cls: type[_SpikeNode], pos: tuple[float, float] | None = None) -> str:
        """Add a node of ``cls`` (as the palette does); returns its population id.

        Without ``pos`` the node goes right of the one selected (so repeated
        palette double-clicks build a left-to-right chain), else to the centre
        of the view; either way it moves to the nearest free spot and is
        scrolled into view."""
        viewer = self.graph.viewer()
        if pos is None:
            selected = [n for n in self.graph.selected_nodes() if n.id in self._pop_of]
            if len(selected) == 1:
                x, y = selected[0].pos()
                pos = (x + selected[0].view.width + EDGE_ROOM, y)
            else:
                center = viewer.mapToScene(viewer.viewport().rect().center())
                pos = (center.x() - 80.0, center.y() - 30.0)
        before = {p.id for p in self.ctl.project.populations}
        self.graph.create_node(node_type(cls), pos=[pos[0], pos[1]], push_undo=False)
        new = [p.id for p in self.ctl.project.populations if p.id not in before]
        if not new:
            return ""
        node = self._node_of[new[0]]
        visible = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
        if not visible.contains(node.view.sceneBoundingRect()):
            self.graph.center_on([node])
        return new[0]

    def node_rects(self, exclude: Any = None) -> list[QRectF]:
        """Scene rectangles of the nodes (except ``exclude``)."""
        return [n.view.sceneBoundingRect() for n in self._node_of.values()
                if n is not exclude and n.view.scene() is not None]

    def free_position(self, want: tuple[float, float], node: Any = None,
                      size: tuple[float, float] | None = None) -> tuple[float, float]:
        """The free spot nearest ``want`` for a node of ``size`` (default: ``node``'s),
        searching right first, then left, then rows below and above."""
        if size is None:
            size = (float(node.view.width), float(node.view.height)) if node is not None \
                else (160.0, 60.0)
        w, h = size
        taken = [r.adjusted(-PLACE_GAP / 2, -PLACE_GAP / 2, PLACE_GAP / 2, PLACE_GAP / 2)
                 for r in self.node_rects(exclude=node)]
        step_x, step_y = max(w, 160.0) + PLACE_GAP, h + PLACE_GAP
        cells = sorted(((i, j) for i in range(-8, 9) for j in range(-8, 9)),
                       key=lambda c: (max(abs(c[0]), abs(c[1])), abs(c[1]), -c[0], c[1]))
        for i, j in cells:
            x, y = want[0] + i * step_x, want[1] + j * step_y
            rect = QRectF(x, y, w, h)
            if not any(rect.intersects(r) for r in taken):
                return (x, y)
        return want

    def can_paste(self) -> bool:
        """The clipboard holds copied populations."""
        mime = QApplication.clipboard().mimeData()
        return mime is not None and mime.hasFormat(CLIP_MIME)

    def delete_selected(self) -> None:
        """Delete the selected populations (with their connections) and connections."""
        pops, conns = self.selected()
        if pops or conns:
            self.ctl.edit("Delete", lambda p: remove_items(p, pops, conns))

    def copy_selected(self) -> bool:
        """Copy the selected populations and the connections among them."""
        pops, _ = self.selected()
        if not pops:
            return False
        project = self.ctl.project
        data = {
            "populations": [project.population(p).to_dict() for p in pops],
            "connections": [c.to_dict() for c in project.connections
                            if c.source in pops and c.target in pops],
        }
        from PySide6.QtCore import QMimeData

        mime = QMimeData()
        text = json.dumps(data)
        mime.setData(CLIP_MIME, text.encode())
        mime.setText(text)
        QApplication.clipboard().setMimeData(mime)
        return True

    def paste(self) -> list[str]:
        """Paste copied populations with fresh ids and names; returns new ids."""
        mime = QApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(CLIP_MIME):
            return []
        try:
            data = json.loads(bytes(mime.data(CLIP_MIME)).decode())
            pops = [parse_population(d, "clipboard") for d in data["populations"]]
            conns = [parse_connection(d, "clipboard") for d in data["connections"]]
        except Exception:  # noqa: BLE001 - foreign clipboard content is ignored
            return []
        new_ids: list[str] = []

        def paste(p: Project) -> None:
            mapping = {}
            for pop in pops:
                new = PopulationSpec(p.new_id("p"), p.unique_name(pop.name), pop.model,
                                     pop.size, dict(pop.params), pop.readout,
                                     pop.record_spikes,
                                     (pop.position[0] + 40.0, pop.position[1] + 40.0))
                mapping[pop.id] = new.id
                p.populations.append(new)
                new_ids.append(new.id)
            for c in conns:
                if c.source in mapping and c.target in mapping:
                    p.connections.append(ConnectionSpec(
                        p.new_id("c"), p.unique_name(c.name), mapping[c.source],
                        mapping[c.target], dict(c.connectivity), dict(c.weight),
                        dict(c.synapse), c.max_delay_steps))

        self.ctl.edit("Paste", paste)
        self.select(new_ids)
        return new_ids

    def fit(self) -> None:
        """Zoom to show every node (at most 1:1); an empty canvas goes back to 1:1."""
        self.graph.clear_selection()
        if self.graph.all_nodes():
            self.graph.fit_to_selection()
        else:
            self.graph.viewer().reset_zoom()

    def select_all(self) -> None:
        """Select every node."""
        self.graph.select_all()


def _set_label(node: Any, label: str) -> None:
    """Show ``label`` (several lines) in a node and size the box around it.

    NodeGraphQt's name property collapses whitespace and renumbers clashes, so
    the node's name stays the population name and the label is set on the
    text item directly (locked: names are edited in the inspector)."""
    text = node.view.text_item
    if text.toPlainText() == label:
        return
    text.set_locked(True)
    text.setPlainText(label)
    option = QTextOption(text.document().defaultTextOption())
    option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    text.document().setDefaultTextOption(option)
    text.setTextWidth(-1)
    text.setTextWidth(text.boundingRect().width())
    node.view.draw_node()


def remove_items(project: Project, pop_ids: list[str], conn_ids: list[str]) -> None:
    """Remove populations (with every connection touching them) and connections."""
    pset, cset = set(pop_ids), set(conn_ids)
    project.populations = [p for p in project.populations if p.id not in pset]
    project.connections = [c for c in project.connections
                           if c.id not in cset and c.source not in pset and c.target not in pset]
    kept = {x.id for x in project.connections}
    project.compiler.delay_learn_conns = [c for c in project.compiler.delay_learn_conns
                                          if c in kept]
    project.compiler.deep_r_conns = [c for c in project.compiler.deep_r_conns if c in kept]
    for key in ("input", "output"):
        if getattr(project.dataset, key) in pset:
            setattr(project.dataset, key, None)
    for cid in list(project.weights):
        if not any(c.id == cid for c in project.connections):
            del project.weights[cid]


__all__ = ["Canvas", "NODE_CLASSES", "InputNode", "PoissonInputNode", "LIFNode", "ALIFNode",
           "OutputNode", "remove_items"]
