"""benchmarks/quality.py --merge: new rows go under the file's own columns."""

import importlib.util
from pathlib import Path

QUALITY = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"


def _merge_tables():
    spec = importlib.util.spec_from_file_location("quality_benchmark", QUALITY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.merge_tables


OLD = """### digits

| generator | FID | label acc | worst |
|---|---|---|---|
| floor | 0.62 | - | - |
| dcgan | 7.7 | - | - |
| cdcgan | 2.0 | 0.97 | 0.85 |

- a note
"""


def test_rows_of_a_narrower_table_keep_the_file_header_and_fill_missing_columns():
    new = "### digits\n\n| generator | FID |\n|---|---|\n| floor | 0.62 |\n| stylegan | 6.3 |\n| dcgan | 7.5 |\n"
    merged = _merge_tables()(OLD, new).splitlines()
    assert merged[2] == "| generator | FID | label acc | worst |" and merged[3] == "|---|---|---|---|"
    assert "| dcgan | 7.5 | - | - |" in merged and "| cdcgan | 2.0 | 0.97 | 0.85 |" in merged
    assert merged.index("| stylegan | 6.3 | - | - |") == merged.index("| cdcgan | 2.0 | 0.97 | 0.85 |") + 1
    assert merged[-1] == "- a note"


def test_a_new_section_is_added_before_the_notes():
    merged = _merge_tables()(OLD, "### shapes\n\n| generator | FID |\n|---|---|\n| chairs | 8.7 |\n")
    assert merged.index("### shapes") < merged.index("- a note") and "| chairs | 8.7 |" in merged
