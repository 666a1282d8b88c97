"""Property test: garbage and mutated project files only ever raise ProjectError."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.project import io
from app.project.errors import ProjectError
from app.project.examples import load_example

VALID = [load_example(k).to_dict() for k in ("yin_yang_eventprop", "pattern_eprop",
                                              "shd_eventprop")]

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(
    json_scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.text(max_size=6), kids, max_size=4)),
    max_leaves=12)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return doc


def _load_text(tmp: Path, text: str | bytes) -> None:
    path = tmp / "fuzz.ssproj"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    try:
        io.load_project(path)
    except ProjectError as exc:
        assert str(exc)  # a message for the user


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=mutated())
def test_mutated_documents_only_raise_project_error(tmp_path: Path, doc: Any) -> None:
    _load_text(tmp_path, json.dumps(doc))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), json_values.map(json.dumps),
                      st.text(max_size=200)))
def test_garbage_only_raises_project_error(tmp_path: Path, data: Any) -> None:
    _load_text(tmp_path, data)


def test_mutation_strategy_does_reach_errors(tmp_path: Path) -> None:
    bad = copy.deepcopy(VALID[0])
    bad["populations"][1]["size"] = -3
    path = tmp_path / "x.ssproj"
    path.write_text(json.dumps(bad))
    try:
        io.load_project(path)
    except ProjectError as exc:
        assert exc.field == "populations[1].size"
    else:
        raise AssertionError("negative size accepted")
