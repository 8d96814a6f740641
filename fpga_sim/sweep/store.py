"""The durable result store: one SQLite database in WAL mode, one row per point, keyed by the hash
of the point's full configuration.

Why SQLite rather than Parquet parts: each finished batch is one transaction (committed, fsync'd,
then acknowledged), so a killed run loses nothing that was reported done; the primary key makes
a duplicate impossible even when a retried task delivers a point twice; WAL lets a reader (a
report, `sqlite3`) look while a sweep writes; and it is in the standard library.  Parquet would
need a compaction and de-duplication step on read and pyarrow.  Only the sweep's client writes
(workers return rows to it), so the database never sits on a filesystem shared by writers.
"""
from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

STORE_NAME = "sweep.sqlite"
COLUMNS = ("key", "grid_index", "model", "precision", "bits", "hardware", "fits", "note", "status", "error",
           "metrics", "seconds", "worker", "versions", "finished_utc", "run_id")
_JSON = ("hardware", "metrics", "versions")

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,          -- sha256 of the point's full configuration
    grid_index INTEGER,            -- position in its sweep's grid
    model TEXT, precision TEXT, bits INTEGER,
    hardware TEXT NOT NULL,        -- JSON: every Hardware field
    fits INTEGER NOT NULL,         -- 1 when the target part holds it
    note TEXT,                     -- why it does not fit
    status TEXT NOT NULL,          -- 'ok' or 'error'
    error TEXT,                    -- the error sentence of an invalid point
    metrics TEXT NOT NULL,         -- JSON: cycles, energy_total_pj, ... (empty for an error)
    seconds REAL, worker TEXT,
    versions TEXT,                 -- JSON: fpga_sim and package versions that computed it
    finished_utc TEXT, run_id INTEGER);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sweep TEXT, started_utc TEXT, finished_utc TEXT,
    planned INTEGER, found INTEGER, computed INTEGER, failed INTEGER, workers TEXT);
"""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Store:
    """Points of any number of sweeps in DIR/sweep.sqlite."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / STORE_NAME
        self.db = sqlite3.connect(self.path, timeout=30.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")      # a commit survives a crash of the process or the OS
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ points
    def present(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` already stored."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 900):          # SQLite's bound-parameter limit
            chunk = keys[i:i + 900]
            q = f"SELECT key FROM points WHERE key IN ({','.join('?' * len(chunk))})"
            found.update(k for (k,) in self.db.execute(q, chunk))
        return found

    def put(self, rows: Iterable[dict[str, Any]], run_id: int | None = None) -> int:
        """Insert finished points in one transaction (a key already stored is left as it is);
        returns how many were new."""
        now = _now()
        values = []
        for r in rows:
            rec = {**r, "grid_index": r.get("index"), "fits": int(bool(r.get("fits", True))),
                   "finished_utc": now, "run_id": run_id}
            values.append(tuple(json.dumps(rec.get(c), sort_keys=True) if c in _JSON else rec.get(c)
                                for c in COLUMNS))
        with self.db:
            before = self.db.total_changes
            self.db.executemany(f"INSERT OR IGNORE INTO points ({','.join(COLUMNS)}) VALUES "
                                f"({','.join('?' * len(COLUMNS))})", values)
            return self.db.total_changes - before

    def rows(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored points as dicts (JSON columns decoded), in grid order; only `keys` when given."""
        if keys is None:
            cur = self.db.execute(f"SELECT {','.join(COLUMNS)} FROM points ORDER BY grid_index, key")
            raw = cur.fetchall()
        else:
            keys = list(keys)
            raw = []
            for i in range(0, len(keys), 900):
                chunk = keys[i:i + 900]
                raw += self.db.execute(f"SELECT {','.join(COLUMNS)} FROM points WHERE key IN "
                                       f"({','.join('?' * len(chunk))})", chunk).fetchall()
            raw.sort(key=lambda r: (r[1] if r[1] is not None else -1, r[0]))
        out = []
        for values in raw:
            d = dict(zip(COLUMNS, values))
            for c in _JSON:
                d[c] = json.loads(d[c]) if d[c] is not None else None
            d["fits"] = bool(d["fits"])
            d["index"] = d.pop("grid_index")
            out.append(d)
        return out

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    # -------------------------------------------------------------------- runs
    def start_run(self, sweep: str, planned: int, found: int, workers: str) -> int:
        with self.db:
            cur = self.db.execute("INSERT INTO runs (sweep, started_utc, planned, found, computed, failed, workers) "
                                  "VALUES (?, ?, ?, ?, 0, 0, ?)", (sweep, _now(), planned, found, workers))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, computed: int, failed: int) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished_utc = ?, computed = ?, failed = ? WHERE id = ?",
                            (_now(), computed, failed, run_id))


def check_directory(directory: str | Path) -> None:
    """DIR must be new, empty, or an earlier sweep's (holding sweep.sqlite): never someone else's."""
    from ..errors import FpgaSimError

    p = Path(directory)
    if p.exists() and (not p.is_dir() or (any(p.iterdir()) and not (p / STORE_NAME).exists())):
        raise FpgaSimError(f"--out {str(p)!r} exists and holds no sweep store ({STORE_NAME}); "
                           "give a new or empty directory, or an earlier sweep's")
