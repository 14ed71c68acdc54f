"""The benchmarks' sections of a docs page (docs/BENCHMARKS.md): each benchmark rewrites only the
text between its own `<!-- NAME benchmark: start -->` and `<!-- NAME benchmark: end -->` markers."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, text: str, section: str) -> None:
    """Replace (or append) the section between the `section` markers of `path`."""
    start, end = f"<!-- {section} benchmark: start -->", f"<!-- {section} benchmark: end -->"
    body = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        new = old[:old.index(start)] + body + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + body + "\n"
    path.write_text(new)
