"""A sweep on a local Dask cluster of 2 worker processes (127.0.0.1 only): the store equals a serial
run's bit for bit; a worker killed mid-sweep loses and duplicates nothing; an interrupted sweep
resumes where it stopped; a rerun finds every point in the store."""
from __future__ import annotations

import os
import sqlite3

import pytest

from fpga_sim.sweep import evaluate, runner
from fpga_sim.sweep.sources import load_models
from fpga_sim.sweep.spec import load_spec
from fpga_sim.sweep.store import STORE_NAME, Store
from tests.sweep_support import write_sweep

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    s = load_spec(write_sweep(tmp_path_factory.mktemp("sweep")))
    models = load_models(s)
    return s, models, runner.plan(s, models)


@pytest.fixture(scope="module")
def serial(sweep, tmp_path_factory):
    s, models, _ = sweep
    with Store(tmp_path_factory.mktemp("serial")) as st:
        res = runner.run(s, models, st)
    return {r["key"]: r for r in res.rows}


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    return tmp_path_factory.mktemp("crash") / "killed"


@pytest.fixture(scope="module")
def client(sweep, marker):
    """Two worker processes; the one that reaches the middle point of the sweep dies there, once."""
    _, _, points = sweep
    crash = points[len(points) // 2].key
    old = os.environ.get(evaluate.CRASH_ENV)
    os.environ[evaluate.CRASH_ENV] = f"{crash}@{marker}"
    try:
        cluster, client = runner.local_cluster(2)
    finally:
        os.environ.pop(evaluate.CRASH_ENV) if old is None else os.environ.__setitem__(evaluate.CRASH_ENV, old)
    assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info()["workers"])
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    yield client
    client.close()
    cluster.close()


def _same_as_serial(rows, serial):
    assert sorted(r["key"] for r in rows) == sorted(serial)
    for r in rows:
        ref = serial[r["key"]]
        assert (r["status"], r["error"], r["fits"], r["metrics"]) == (ref["status"], ref["error"], ref["fits"], ref["metrics"])


def _no_duplicates(directory, n):
    db = sqlite3.connect(directory / STORE_NAME)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM points").fetchone() == (n, n)


def test_killed_worker_loses_and_duplicates_nothing(sweep, serial, client, marker, tmp_path):
    s, models, points = sweep
    with Store(tmp_path) as st:
        res = runner.run(s, models, st, client, size=6)
    assert marker.exists(), "the test hook did not kill a worker"
    assert res.failed == [] and res.computed == len(points) and res.found == 0 and res.batches == 24
    _same_as_serial(res.rows, serial)
    _no_duplicates(tmp_path, len(points))
    assert len({r["worker"] for r in res.rows}) >= 2
    assert {r["status"] for r in res.rows} == {"ok", "error"}          # the 64-byte SRAM points are stored, with their sentence


def test_interrupted_sweep_resumes_and_a_rerun_finds_everything(sweep, serial, client, tmp_path):
    s, models, points = sweep
    seen = []

    def stop_after_two_batches(done, total):
        seen.append(done)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with Store(tmp_path) as st, pytest.raises(KeyboardInterrupt):
        runner.run(s, models, st, client, size=8, on_progress=stop_after_two_batches)
    with Store(tmp_path) as st:
        stored = st.count()
        assert stored == 16 and seen == [0, 8, 16]
        res = runner.run(s, models, st, client, size=8)
        assert (res.found, res.computed) == (16, len(points) - 16)
        _same_as_serial(res.rows, serial)
        again = runner.run(s, models, st, client)
        assert (again.found, again.computed, again.batches) == (len(points), 0, 0)
    _no_duplicates(tmp_path, len(points))


def test_batches_group_one_model_and_precision_and_scale_with_workers(sweep):
    s, _, points = sweep
    chunks = runner.batches(points, 10)
    assert sum(len(c[2]) for c in chunks) == len(points)
    assert all({(pt.model, pt.precision) for pt in c[2]} == {(c[0], c[1])} for c in chunks)
    assert runner.batch_size("cost", 100_000, 2) == runner.BATCH_TARGET["cost"]
    assert runner.batch_size("cost", 80, 2) == 10          # at least 4 tasks per worker
