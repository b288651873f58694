"""Writing a benchmark's section of ``bench/RESULTS.md``, shared by every benchmark."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(tag: str, section: str, path: Path = RESULTS) -> None:
    """Replace (or add at the end) the section between ``<!-- tag:begin -->`` and
    ``<!-- tag:end -->`` of ``path``, keeping every other section."""
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    block = f"{begin}\n{section}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def cpu_model() -> str:
    """The processor's model name (``?`` where ``/proc/cpuinfo`` does not say)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def machine(*extras: str, load: bool = True) -> str:
    """The machine a benchmark runs on: CPU, cores, OS, Python, the ``extras`` (library
    versions) and, with ``load``, the load average when it starts."""
    parts = [
        f"CPU {cpu_model()}",
        f"cores {os.cpu_count()}",
        f"OS {platform.platform()}",
        f"Python {platform.python_version()}",
        *extras,
    ]
    if load:
        parts.append(f"load average (1 min) at start {os.getloadavg()[0]:.2f}")
    return "; ".join(parts)
