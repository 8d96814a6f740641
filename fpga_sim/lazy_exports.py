"""Public names of a package that import their module on first use, so importing the package
stays light (fpga_sim itself; models, whose modules import torch)."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_getattr(package: str, namespace: dict[str, Any], exports: dict[str, str]) -> Callable[[str], Any]:
    """The package's module `__getattr__`: name -> getattr(package.exports[name], name), kept in
    `namespace` (the package's globals) so the import happens once."""
    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
