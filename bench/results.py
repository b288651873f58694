"""Writing a benchmark's section of ``bench/RESULTS.md``, shared by every benchmark."""

from __future__ import annotations

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
