"""Population shapes that convolution and pooling connections determine.

mlGeNN infers a population's shape from a Conv2D/pooling connection into it;
the document stores sizes, so after every edit (and on import) the targets of
such connections get the shape the connectivity gives them. The arithmetic is
the library's own (``app.model.conv``), so the canvas and the compiled network
never disagree.
"""
from __future__ import annotations

import math
from typing import Any

from app.project import schema
from app.project.document import ConnectionSpec, Project


def connectivity_args(conn: ConnectionSpec) -> dict[str, Any]:
    """Keyword arguments of a 2-D connectivity constructor (pairs as tuples)."""
    c = conn.connectivity
    return {p.name: tuple(c[p.name]) if isinstance(c[p.name], list) else c[p.name]
            for p in schema.CONNECTIVITY[c["type"]]}


def output_shape(conn: ConnectionSpec, source_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The target shape a shape-setting connection gives (flattened when asked), or
    None when it cannot (a flat source, an invalid combination)."""
    from app.model import connectivity as lib
    from app.model.errors import ModelError

    kind = conn.connectivity["type"]
    if kind not in schema.SHAPE_SETTING or len(source_shape) != 3:
        return None
    args = connectivity_args(conn)
    args.pop("delay", None)
    try:
        if kind == "AvgPool2D":
            obj = lib.AvgPool2D(**args)
        else:
            obj = getattr(lib, kind)(0.0, **args)
        shape = obj.output_shape(tuple(source_shape))
    except ModelError:
        return None
    if min(shape) < 1:
        return None
    return (math.prod(shape),) if args.get("flatten") else tuple(int(s) for s in shape)


def infer_shapes(project: Project) -> dict[str, tuple[int, ...]]:
    """Population id -> the shape its incoming shape-setting connection gives it,
    following chains of convolutions (sources first)."""
    shapes = {p.id: p.model_shape for p in project.populations}
    inferred: dict[str, tuple[int, ...]] = {}
    for _ in range(len(project.connections) + 1):
        changed = False
        for c in project.connections:
            if c.source == c.target:
                continue
            out = output_shape(c, shapes[c.source])
            if out is not None and shapes[c.target] != out:
                shapes[c.target] = out
                changed = True
            if out is not None:
                inferred[c.target] = out
        if not changed:
            break
    return inferred


def apply_inferred_shapes(project: Project) -> list[str]:
    """Give every target of a convolution/pooling connection its inferred size and
    shape (in place); returns the ids of the populations that changed."""
    changed = []
    for pid, shape in infer_shapes(project).items():
        pop = project.population(pid)
        new_shape = list(shape) if len(shape) > 1 else None
        size = math.prod(shape)
        if pop.size != size or pop.shape != new_shape:
            pop.size = size
            pop.shape = new_shape
            changed.append(pid)
    return changed
