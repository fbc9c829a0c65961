"""The scan benchmark still runs and writes the table the book includes."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_scan_benchmark_writes_a_table_with_every_method(tmp_path):
    out = tmp_path / "scans.md"
    subprocess.run([sys.executable, str(ROOT / "bench" / "scans.py"), "--runs", "1", "--max-T", "1000",
                    "--sizes", "1", "--out", str(out)], check=True, capture_output=True, timeout=300)
    table = out.read_text()
    for column in ('method="loop"', 'method="scan"', 'method="associative"', "bare lax.scan"):
        assert column in table
    assert "| 1,000 | 1 |" in table
