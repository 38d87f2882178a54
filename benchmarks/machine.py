"""What every benchmark report names first: the CPU (dependency-free, shared by the scripts)."""

import platform


def cpu_name() -> str:
    """The ``model name`` of /proc/cpuinfo, else ``platform.processor()``, else "?"."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"
