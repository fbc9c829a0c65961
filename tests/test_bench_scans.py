"""The scan benchmark still runs and writes what chapter 4 reads: the JSON the library
ships (lectlib.benchmarks checks its layout) and the Markdown table for maintainers."""
import json
import subprocess
import sys
from pathlib import Path

from lectlib import benchmarks

ROOT = Path(__file__).resolve().parents[1]


def test_scan_benchmark_writes_the_results_and_a_table_with_every_method(tmp_path):
    out, table = tmp_path / "scans.json", tmp_path / "scans.md"
    subprocess.run([sys.executable, str(ROOT / "bench" / "scans.py"), "--runs", "1", "--max-T", "1000",
                    "--sizes", "1", "--out", str(out), "--table", str(table)],
                   check=True, capture_output=True, timeout=300)
    data = json.loads(out.read_text())
    benchmarks.check_scan_results(data)
    assert [(row["T"], row["d"]) for row in data["rows"]] == [(1000, 1)]
    text = table.read_text()
    assert text == benchmarks.scan_table_markdown(data)
    for column in ('method="loop"', 'method="scan"', 'method="associative"', "bare lax.scan"):
        assert column in text
    assert "| 1,000 | 1 |" in text


def test_the_benchmark_writes_where_the_library_reads_by_default():
    source = (ROOT / "bench" / "scans.py").read_text()
    assert 'ROOT.parent / "lectlib" / "data_files" / benchmarks.SCAN_FILE' in source
    assert Path(str(benchmarks.scan_results_path())) == ROOT / "lectlib" / "data_files" / "scans.json"
