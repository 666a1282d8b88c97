"""benchmarks/accuracy.py: setup description, summary statistics, result files and the
README rows, on a tiny run of the bundled Yin-Yang example (the real runs take minutes
per seed and are recorded in BENCHMARKS.md)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from benchmarks.accuracy import (
    SETUPS,
    describe,
    load_setup,
    main,
    summarise,
    summary_lines,
    table_rows,
)


def test_summary_statistics() -> None:
    s = summarise([0.97, 0.98, 0.99])
    assert (s.n, s.mean) == (3, pytest.approx(0.98))
    assert s.sd == pytest.approx(statistics.stdev([0.97, 0.98, 0.99]))  # sample sd
    assert s.text() == "98.0 ± 1.0"
    assert summarise([0.5]).sd == 0.0
    with pytest.raises(ValueError):
        summarise([])


def test_every_setup_is_a_bundled_example_and_is_described() -> None:
    for name in SETUPS:
        key, project = load_setup(name)
        d = describe(project)
        assert key == name
        assert set(d) == {"network", "data", "compiler", "loss", "optimiser", "training"}
        assert f"batch {project.compiler.params['batch_size']}" in d["compiler"]
        assert f"{project.training.num_epochs} epochs" in d["training"]
        for pop in project.populations:
            assert f"{pop.name} {pop.size} {pop.model}" in d["network"]
    d = describe(load_setup("yin_yang_eventprop")[1])
    assert "ttfs_loss=exponential" in d["loss"]
    assert "bias=True" in d["data"]
    with pytest.raises(SystemExit):
        load_setup("no_such_setup")


def test_tiny_run_writes_results_that_summarise(tmp_path: Path, capsys) -> None:
    assert main(["yin_yang_eventprop", "--seeds", "3", "4", "--epochs", "1",
                 "--max-examples", "64", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("*.json"))
    assert [f.name for f in files] == ["yin_yang_eventprop_seed3.json",
                                       "yin_yang_eventprop_seed4.json"]
    runs = [json.loads(f.read_text()) for f in files]
    for r in runs:
        assert r["n_train"] == 64 and r["n_test"] == 64 and r["epochs"] == 1
        assert 0.0 <= r["test"] <= 1.0 and r["validation"] is not None
        assert r["curve"][-1]["test"] == r["test"]
        assert "1 epochs" in r["setup"]["training"]
    out = capsys.readouterr().out
    mean = summarise([r["test"] for r in runs])
    assert f"yin_yang_eventprop: test {mean.text()} % over 2 seeds" in out
    assert summary_lines(runs)[0].startswith(f"yin_yang_eventprop: test {mean.text()} %")
    rows = table_rows(runs)
    assert rows[0].startswith("| example |") and len(rows) == 3
    assert f"**{mean.text()} %** (2 seeds)" in rows[2]
    assert main(["--table", *map(str, files)]) == 0
    assert rows[2] in capsys.readouterr().out
    assert main(["--markdown", *map(str, files)]) == 0
    md = capsys.readouterr().out
    assert rows[2] in md and "- **Yin-Yang, EventProp** (`resources/examples/" in md
    for key in ("network", "data", "compiler", "loss", "optimiser", "training"):
        assert f"  {key}: {runs[0]['setup'][key]}." in md


def _example_module(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script, setup", [("yin_yang_eventprop", "yin_yang_eventprop"),
                                           ("mnist5k_eventprop", "mnist5k_eventprop"),
                                           ("eprop_mnist5k", "mnist5k_eprop")])
def test_example_scripts_ship_the_bundled_projects_settings(script: str, setup: str) -> None:
    """The scripts in examples/ and the projects the window opens train the same way."""
    m = _example_module(script)
    p = load_setup(setup)[1]
    c = p.compiler.params
    assert m.BATCH_SIZE == c["batch_size"]
    assert m.NUM_EPOCHS == p.training.num_epochs
    assert m.LEARNING_RATE == p.compiler.optimiser["alpha"]
    assert p.training.lr_schedule == {"type": "exponential", "factor": m.LR_DECAY}
    assert getattr(m, "NUM_HIDDEN", 128) == p.populations[1].size
    if hasattr(m, "DT"):
        assert m.DT == c["dt"] == p.dataset.params["dt"]
        assert m.EXAMPLE_TIME == pytest.approx(c["example_timesteps"] * c["dt"])
    if hasattr(m, "AUGMENT_COPIES"):
        assert m.AUGMENT_COPIES == p.dataset.params["augment_copies"]
    if hasattr(m, "TAU0"):
        assert (m.TAU0, m.ALPHA, m.TAU1) == (c["softmax_temperature"], c["ttfs_alpha"],
                                             c["ttfs_tau1"])
        assert c["ttfs_loss"] == "exponential" and c["reset_in_syn_between_batches"] is True
        assert p.dataset.params["bias"] is True and m.DATA_SEED == 42
        assert m.INPUT_TIME == p.dataset.params["input_time"]


def test_overrides_change_a_copy() -> None:
    from benchmarks.accuracy import apply_overrides

    p = load_setup("mnist5k_eventprop")[1]
    q = apply_overrides(p, ["dataset.augment_copies=0", "compiler.dt=1.0",
                            "training.num_epochs=3", "optimiser.alpha=0.5",
                            "training.lr_schedule=null"])
    assert q.dataset.params["augment_copies"] == 0 and q.compiler.params["dt"] == 1.0
    assert q.training.num_epochs == 3 and q.compiler.optimiser["alpha"] == 0.5
    assert q.training.lr_schedule is None
    assert p.dataset.params["augment_copies"] == 4 and p.training.lr_schedule is not None
    for bad in ("dt=1", "network.x=1", "training.nope=1"):
        with pytest.raises(SystemExit):
            apply_overrides(p, [bad])


def test_readme_results_section_is_the_scripts_output_of_the_saved_results() -> None:
    """The README's accuracy table is what ``--markdown`` prints from the result files
    in benchmarks/results/accuracy (regenerate it with that command after a re-run)."""
    from benchmarks.accuracy import _result_files, markdown_lines

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    from benchmarks.accuracy import README_BEGIN as begin
    from benchmarks.accuracy import README_END as end

    assert begin in readme and end in readme
    section = readme.split(begin, 1)[1].split(end, 1)[0].strip("\n")
    files = sorted(str(p) for p in (root / "benchmarks/results/accuracy").glob("*.json"))
    results = _result_files(files)
    assert {r["setup_name"] for r in results} == set(SETUPS)
    assert section == "\n".join(markdown_lines(results))


def test_readme_section_is_replaced_between_the_markers(tmp_path: Path) -> None:
    from benchmarks.accuracy import README_BEGIN, README_END, write_readme_section

    path = tmp_path / "README.md"
    path.write_text(f"intro\n{README_BEGIN}old table\n{README_END}\nafter\n")
    write_readme_section(path, "| new |")
    assert path.read_text() == f"intro\n{README_BEGIN}| new |\n{README_END}\nafter\n"
    path.write_text("no markers")
    with pytest.raises(SystemExit):
        write_readme_section(path, "x")
