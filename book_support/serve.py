"""Serves the built website on localhost the way a static host with precompressed files
does (``make serve``): a request for ``x.js`` from a browser that accepts gzip gets
``x.js.gz`` (written by ``course_site.py`` at the end of the build) with
``Content-Encoding: gzip``, and every other request the file itself.

    python book_support/serve.py [--port 8000] [FOLDER]     (default: _build/html)

Also used by the browser tests and ``bench/site.py``, which count the bytes it sends.
"""
import argparse
import functools
import http.server
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class PrecompressedHandler(http.server.SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` that sends ``name.gz`` when the client accepts gzip.

    ``sent`` (a class attribute, a list; None to not count) receives ``(path, bytes)``
    for each response body sent.
    """

    sent = None

    def log_message(self, *args):
        pass

    def _accepts_gzip(self):
        codings = [part.split(";")[0].strip().lower() for part in self.headers.get("Accept-Encoding", "").split(",")]
        return "gzip" in codings

    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path) and self.path.split("?")[0].endswith("/"):
            path = os.path.join(path, "index.html")
        compressed = path + ".gz"
        if os.path.isfile(path) and os.path.isfile(compressed) and self._accepts_gzip():
            with open(compressed, "rb") as handle:
                body = handle.read()
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Last-Modified", self.date_time_string(int(os.stat(path).st_mtime)))
            self.end_headers()
            self._count(len(body))
            if self.command == "HEAD":
                return None
            return io.BytesIO(body)
        result = super().send_head()
        if result is not None and hasattr(result, "fileno"):
            try:
                self._count(os.fstat(result.fileno()).st_size)
            except OSError:
                pass
        return result

    def _count(self, size):
        if self.sent is not None and self.command == "GET":
            self.sent.append((self.path, size))


class PlainHandler(http.server.SimpleHTTPRequestHandler):
    """The files as they are, never compressed (what ``python -m http.server`` does); counts
    like :class:`PrecompressedHandler`."""

    sent = None

    def log_message(self, *args):
        pass

    def send_head(self):
        result = super().send_head()
        if result is not None and hasattr(result, "fileno") and self.sent is not None and self.command == "GET":
            self.sent.append((self.path, os.fstat(result.fileno()).st_size))
        return result


def make_server(folder, port=0, handler=PrecompressedHandler, sent=None):
    """A threading HTTP server for ``folder`` on 127.0.0.1 (``port`` 0: any free port).
    ``sent``: a list that receives ``(path, bytes)`` of every body sent."""
    handler_class = type(handler.__name__, (handler,), {"sent": sent})
    bound = functools.partial(handler_class, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), bound)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the built course website on localhost.")
    parser.add_argument("folder", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not (folder / "index.html").is_file():
        sys.exit(f"error: no website in {folder}; run 'make book' first")
    server = make_server(folder, args.port)
    print(f"Serving {folder} on http://localhost:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
