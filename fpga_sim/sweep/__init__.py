"""Design-space sweeps: many (model, precision, hardware) points on Dask, in a durable store.

`spec` reads and checks the TOML sweep file, `points` expands its axes into points (grid,
random or Latin-hypercube sample) and keys each by a hash of its full configuration,
`evaluate` costs (or simulates) a batch of points on a worker, `store` keeps every finished
point in SQLite (WAL), `runner` drives a Dask cluster (or a serial loop), `pareto` picks the
front, `plots` and `report` draw it.  dask is imported only in `runner` (the `sweep` extra).
"""
