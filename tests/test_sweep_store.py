"""The SQLite store: WAL mode, one row per key however often it is delivered, exact values back
after reopening, and an output directory that is not a sweep's is refused."""
from __future__ import annotations

import sqlite3

import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.sweep.store import STORE_NAME, Store, check_directory


def _row(key: str, index: int, cycles: int, energy: float) -> dict:
    return {"key": key, "index": index, "model": "m", "precision": "p", "bits": 8, "hardware": {"n_dsp": index},
            "fits": index % 2 == 0, "note": None, "status": "ok", "error": None,
            "metrics": {"cycles": cycles, "energy_total_pj": energy, "layers": [["conv", cycles, "compute"]]},
            "seconds": 0.001, "worker": "w", "versions": {"fpga_sim": "0"}}


def test_put_is_idempotent_and_values_come_back_exactly(tmp_path):
    energy = 0.1 + 0.2                     # not representable in few digits: must round-trip bit for bit
    with Store(tmp_path) as s:
        run = s.start_run("x.toml", 3, 0, "1")
        assert s.put([_row("k1", 1, 10, energy), _row("k0", 0, 20, 1e-300)], run) == 2
        assert s.put([_row("k1", 1, 99, 9.0), _row("k2", 2, 30, 3.0)], run) == 1     # k1 kept as first stored
        s.finish_run(run, 3, 0)
    with Store(tmp_path) as s:
        assert s.count() == 3
        assert s.present(["k0", "k1", "nope"]) == {"k0", "k1"}
        rows = s.rows()
        assert [r["key"] for r in rows] == ["k0", "k1", "k2"]
        assert rows[1]["metrics"] == {"cycles": 10, "energy_total_pj": energy, "layers": [["conv", 10, "compute"]]}
        assert rows[0]["metrics"]["energy_total_pj"] == 1e-300 and rows[0]["fits"] is True and rows[1]["fits"] is False
        assert [r["key"] for r in s.rows(["k2", "k0"])] == ["k0", "k2"]
    db = sqlite3.connect(tmp_path / STORE_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT planned, computed FROM runs").fetchall() == [(3, 3)]
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM points").fetchone() == (3, 3)


def test_present_handles_more_keys_than_sqlite_parameters(tmp_path):
    with Store(tmp_path) as s:
        s.put([_row(f"k{i}", i, i, 1.0) for i in range(2000)])
        assert len(s.present([f"k{i}" for i in range(0, 4000, 2)])) == 1000


def test_only_new_empty_or_sweep_directories_are_accepted(tmp_path):
    check_directory(tmp_path / "new")
    check_directory(tmp_path)                            # empty
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FpgaSimError, match="holds no sweep store"):
        check_directory(tmp_path)
    Store(tmp_path).close()
    check_directory(tmp_path)
