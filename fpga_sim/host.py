"""What the host CPU is, for provenance: benchmark headers and the bundled models' training platform."""
from __future__ import annotations

import platform


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
