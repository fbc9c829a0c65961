"""lectlib.benchmarks: the packaged scan results are complete, and the Markdown table (the
benchmark's) and the HTML table (chapter 4's) show the same numbers."""
import json
import re

import pytest

from lectlib import benchmarks


def test_the_packaged_results_are_complete():
    path = benchmarks.scan_results_path()
    assert path.is_file(), "lectlib/data_files/scans.json is missing: run bench/scans.py"
    data = benchmarks.load_scan_results()
    assert data == json.loads(path.read_text(encoding="utf-8"))
    sizes = {(row["T"], row["d"]) for row in data["rows"]}
    assert {(1000, 1), (1_000_000, 1)} <= sizes, sizes
    for row in data["rows"]:
        for method in (benchmarks.SCAN, benchmarks.ASSOCIATIVE, benchmarks.BARE):
            assert row[method]["seconds"] > 0


def test_format_seconds_picks_the_unit():
    assert benchmarks.format_seconds(2.5) == "2.50 s"
    assert benchmarks.format_seconds(0.0123) == "12.30 ms"
    assert benchmarks.format_seconds(37.4e-6) == "37 µs"


def example():
    timing = lambda s, c=0.01: {"seconds": s, "compile": c}
    return {"measured": {"date": "2026-01-02", "cpu_cores": 2, "processor": "x86_64", "jax": "0.0",
                         "dtype": "float32", "runs": 3},
            "rows": [{"T": 1000, "d": 1, benchmarks.BARE: timing(1e-5), benchmarks.SCAN: timing(2e-5),
                      benchmarks.ASSOCIATIVE: timing(4e-5, 0.3),
                      benchmarks.LOOP: {"seconds": 0.15, "compile": None, "extrapolated": True}},
                     {"T": 10_000, "d": 16, benchmarks.BARE: timing(1e-4), benchmarks.SCAN: timing(1e-4),
                      benchmarks.ASSOCIATIVE: timing(3e-4)}]}


def test_markdown_and_html_tables_carry_the_same_cells():
    data = example()
    markdown, page = benchmarks.scan_table_markdown(data), benchmarks.scan_table_html(data)
    assert "| 1,000 | 1 | 150.00 ms (15000.00× extrapolated) | 20 µs (2.00×) | 40 µs (4.00×) | 10 µs (1.00×) " \
           "| 10.00 ms / 300.00 ms |" in markdown
    assert "| 10,000 | 16 | not run | 100 µs (1.00×) | 300 µs (3.00×) |" in markdown
    header, rows = benchmarks.scan_table_cells(data)
    for cells in rows:
        for time, ratio in cells:
            assert time in page and ratio in page
    assert all(name.replace('"', "&quot;") in page for name in header)
    assert "Measured 2026-01-02 on 2 CPU cores" in markdown and "Measured 2026-01-02 on 2 CPU cores" in page


def test_the_html_table_scrolls_instead_of_overflowing():
    page = benchmarks.scan_table_html(example())
    wrapper = re.match(r'<div [^>]*style="([^"]*)"[^>]*>\s*<table', page)
    assert wrapper and "overflow-x:auto" in wrapper.group(1), page[:200]
    assert page.rstrip().endswith("</table></div>")
    assert "<br><small>" in page          # ratios under their times: narrow columns


def test_bad_results_are_refused():
    with pytest.raises(ValueError, match="measured"):
        benchmarks.check_scan_results({"rows": []})
    broken = example()
    del broken["rows"][0][benchmarks.SCAN]
    with pytest.raises(ValueError, match="lacks"):
        benchmarks.scan_table_cells(broken)
