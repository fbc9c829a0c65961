"""Where every benchmark leaves its results: a Markdown table the book can include and
the same numbers as JSON next to it."""
import json


def write_results(out, table, data):
    """Writes ``table`` to ``out`` (``.md``) and ``data`` to the same name with ``.json``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1))
