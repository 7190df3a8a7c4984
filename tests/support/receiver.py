"""A real HTTP server on 127.0.0.1 for notification tests: it keeps every request made
to it (Apprise's json:// POSTs, healthchecks-style pings) and answers 200."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """An HTTP server that keeps what is POSTed (or GETed) to it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received.append(("POST", self.path, self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")

            def do_GET(self):
                received.append(("GET", self.path, b""))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def posted_json(self, path: str) -> list[dict]:
        return [json.loads(body) for method, got, body in self.requests if method == "POST" and got == path]

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def about(self, job: str) -> list[dict]:
        """The json:// notifications (to any path) whose title or message names `job`."""
        posts = [json.loads(body) for method, _, body in self.requests if method == "POST"]
        return [post for post in posts if job in f"{post.get('title')} {post.get('message')}"]
