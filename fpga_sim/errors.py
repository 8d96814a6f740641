"""Errors a user can act on: one sentence naming what is wrong and what is accepted."""
from __future__ import annotations


class FpgaSimError(ValueError):
    """Bad input (model file, config value, hardware setting). The CLI prints it and exits 2."""


class UnsupportedModelError(FpgaSimError):
    """An ONNX file that is malformed or uses something the importer does not support."""


class ConfigError(FpgaSimError):
    """A configuration value (precision, hardware, layer override) that is not accepted."""


class CheckFailed(RuntimeError):
    """A verification step disagreed (e.g. C-simulation != engine). The CLI exits 1."""
