"""Measured benchmark results shipped with the library, and the tables made from them.

``bench/scans.py`` times ``lectlib.linear_recurrence`` by loop, ``jax.lax.scan`` and
associative scan against a bare ``jax.lax.scan``, and writes its numbers into this
package (``lectlib/data_files/scans.json``): one file, which the benchmark writes and
chapter 4 reads, so the chapter runs from any folder with only the student package
installed. The same functions format the benchmark's Markdown table and the chapter's
HTML table, so the two cannot disagree.
"""
import datetime
import html
import json
from importlib import resources

LOOP, SCAN, ASSOCIATIVE, BARE = 'method="loop"', 'method="scan"', 'method="associative"', "bare lax.scan"
SCAN_METHODS = (LOOP, SCAN, ASSOCIATIVE, BARE)
SCAN_FILE = "scans.json"


def scan_results_path():
    """Where the scan benchmark's numbers live inside the package (a ``pathlib``-like
    ``Traversable``; a real file for an installed or editable package).

    Chapter 4; tests/test_benchmarks.py::test_the_packaged_results_are_complete.
    """
    return resources.files("lectlib") / "data_files" / SCAN_FILE


def load_scan_results():
    """The scan benchmark as measured: ``{"measured": {date, cpu_cores, processor, jax,
    dtype, runs}, "rows": [{"T", "d", <method>: {"seconds", "compile", ...}}, ...]}``.

    Chapter 4; tests/test_benchmarks.py::test_the_packaged_results_are_complete.
    """
    data = json.loads(scan_results_path().read_text(encoding="utf-8"))
    check_scan_results(data)
    return data


def check_scan_results(data):
    """Raises ValueError unless ``data`` has the layout ``load_scan_results`` describes.

    Chapter 4; tests/test_benchmarks.py::test_bad_results_are_refused.
    """
    if not isinstance(data, dict) or set(data) != {"measured", "rows"}:
        raise ValueError('scan results must be {"measured": {...}, "rows": [...]}')
    for key in ("date", "cpu_cores", "processor", "jax", "dtype", "runs"):
        if key not in data["measured"]:
            raise ValueError(f"scan results: measured.{key} is missing")
    for row in data["rows"]:
        for key in ("T", "d", SCAN, ASSOCIATIVE, BARE):
            if key not in row:
                raise ValueError(f"scan results: a row lacks {key!r}: {sorted(row)}")


def measured_now(cpu_cores, processor, jax_version, runs, dtype="float32"):
    """The ``measured`` record of a run made today (used by ``bench/scans.py``).

    Chapter 4; tests/test_bench_scans.py::test_scan_benchmark_writes_the_results_and_a_table_with_every_method.
    """
    return {"date": datetime.date.today().isoformat(), "cpu_cores": cpu_cores, "processor": processor,
            "jax": jax_version, "dtype": dtype, "runs": runs}


def format_seconds(seconds):
    """``1.50 s``, ``2.30 ms`` or ``37 µs``.

    Chapter 4; tests/test_benchmarks.py::test_format_seconds_picks_the_unit.
    """
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def scan_table_caption(data):
    """The sentence that says where, how and when the table was measured.

    Chapter 4; tests/test_benchmarks.py::test_markdown_and_html_tables_carry_the_same_cells.
    """
    m = data["measured"]
    return (f"Measured {m['date']} on {m['cpu_cores']} CPU cores ({m['processor']}), JAX {m['jax']}, "
            f"{m['dtype']}; median of {m['runs']} interleaved samples after compilation (order rotated "
            "each round; each sample ≥ 20 ms of back-to-back calls). Ratio = time / time of the bare "
            "`jax.lax.scan` in the same run (lower is faster).")


def scan_table_cells(data):
    """The table as text cells: a header row, then one row per ``(T, d)``. A timing cell
    is ``(time, ratio)``, e.g. ``("9 µs", "0.96×")`` (plus ``" extrapolated"`` for a loop
    time estimated from a shorter run); a missing method is ``("not run", "")``.

    Chapter 4; tests/test_benchmarks.py::test_markdown_and_html_tables_carry_the_same_cells.
    """
    check_scan_results(data)
    header = ["T", "d", *SCAN_METHODS, "compile scan / associative"]
    rows = []
    for row in data["rows"]:
        base = row[BARE]["seconds"]
        cells = [(f"{row['T']:,}", ""), (str(row["d"]), "")]
        for name in SCAN_METHODS:
            if name not in row:
                cells.append(("not run", ""))
                continue
            mark = " extrapolated" if row[name].get("extrapolated") else ""
            cells.append((format_seconds(row[name]["seconds"]), f"{row[name]['seconds'] / base:.2f}×{mark}"))
        cells.append((f"{format_seconds(row[SCAN]['compile'])} / {format_seconds(row[ASSOCIATIVE]['compile'])}", ""))
        rows.append(cells)
    return header, rows


def scan_table_markdown(data):
    """The benchmark table in Markdown, caption first (``bench/scans.py`` prints and saves it).

    Chapter 4; tests/test_benchmarks.py::test_markdown_and_html_tables_carry_the_same_cells.
    """
    header, rows = scan_table_cells(data)
    lines = [scan_table_caption(data), "", "| " + " | ".join(header) + " |",
             "|" + "---:|" * len(header)]
    for cells in rows:
        lines.append("| " + " | ".join(f"{time} ({ratio})" if ratio else time for time, ratio in cells) + " |")
    return "\n".join(lines) + "\n"


def scan_table_html(data):
    """The benchmark table as HTML for a page: inside a container that scrolls sideways
    when the table is wider than the column (a phone), with each ratio on its own line
    under its time so the columns stay narrow.

    Chapter 4; tests/test_benchmarks.py::test_the_html_table_scrolls_instead_of_overflowing.
    """
    header, rows = scan_table_cells(data)
    head = "".join(f'<th scope="col" style="text-align:right">{html.escape(name)}</th>' for name in header)
    body = []
    for cells in rows:
        tds = "".join(
            f'<td style="text-align:right;white-space:nowrap">{html.escape(time)}'
            + (f"<br><small>{html.escape(ratio)}</small>" if ratio else "") + "</td>"
            for time, ratio in cells)
        body.append(f"<tr>{tds}</tr>")
    caption = html.escape(scan_table_caption(data)).replace("`jax.lax.scan`", "<code>jax.lax.scan</code>")
    return ('<div class="scan-benchmark" style="overflow-x:auto;max-width:100%">'
            f'<table class="table"><caption style="caption-side:bottom;font-size:0.85em">{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
