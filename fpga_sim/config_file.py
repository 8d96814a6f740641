"""Reading and checking a TOML config (hardware, energy table, quantisation config, sweep file):
a file that is missing, a directory or not TOML, and a key that is not known, are each one
ConfigError sentence that names the file or key and says what is accepted."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigError


def read_toml(path: str | Path, what: str, instead: str = "") -> dict[str, Any]:
    """The file's top-level table; `what` names the file in errors ("hardware file"), `instead`
    ends the sentence for a missing file (e.g. "; give a TOML path or one of: ...")."""
    p = str(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{what} {p!r} does not exist{instead}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {p!r} is a directory; give a .toml file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {p!r} is not valid TOML: {e}") from None


def check_keys(table: Iterable[str], accepted: Iterable[str], what: str, prefix: str = "") -> None:
    """ConfigError for the first key of `table` not in `accepted`: "unknown <what> '<prefix><key>'; accepted: ..."."""
    accepted = tuple(accepted)
    for key in table:
        if key not in accepted:
            raise ConfigError(f"unknown {what} {prefix + key!r}; accepted: {', '.join(accepted)}")
