"""A scripted OpenAI-compatible server on 127.0.0.1 for fault tests.

Each POST to /v1/chat/completions takes the next step of the script: a
callable given the request JSON that returns a Reply. Requests are recorded.
A Reply with `stall` answers 200 at once, then sends `filler` every `every`
seconds for `stall` seconds (SSE keep-alive comments, empty deltas, JSON
whitespace) before its text; it stops early when the client hangs up.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _chunk(content: str) -> bytes:
    delta = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    return f"data: {json.dumps({'id': 'x', 'object': 'chat.completion.chunk', 'choices': [delta]})}\n\n".encode()


# What a stalling server may send while it holds a request open.
KEEPALIVE = b": keep-alive\n\n"  # an SSE comment (the openai client never shows it)
EMPTY_DELTA = _chunk("")  # a chunk with no text
TRICKLE = _chunk("so ")  # text, a little at a time, never a citation
SILENCE = b""  # nothing at all


@dataclass
class Reply:
    text: str | None = None  # completion text (streamed in pieces when the request streams)
    status: int = 200
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None  # send these bytes as the body, whatever was asked
    delay: float = 0.0
    pieces: int = 4
    stall: float = 0.0
    filler: bytes = KEEPALIVE
    every: float = 0.5


def passage_with(request: dict, needle: str) -> int:
    """Number of the passage in the prompt whose text contains `needle`."""
    user = request["messages"][-1]["content"]
    for m in re.finditer(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S):
        if needle in m.group(2):
            return int(m.group(1))
    raise AssertionError(f"no passage holds {needle!r}")


def sentence_of(request: dict, n: int) -> str:
    """The longest sentence of passage n (a claim that passage supports)."""
    user = request["messages"][-1]["content"]
    m = re.search(rf'<passage n="{n}"[^>]*>\n(.*?)\n</passage>', user, re.S)
    sentences = re.split(r"(?<=[.!?])\s+", m.group(1))
    return max(sentences, key=len).strip()


class FakeOpenAI:
    def __init__(self):
        self.script: list = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._send(200, b'{"object":"list","data":[{"id":"fake","object":"model"}]}')

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                fake.requests.append(body)
                step = fake.script.pop(0) if fake.script else (lambda r: Reply(status=500, text="script ended"))
                reply = step(body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.raw is not None:
                    return self._send(reply.status, reply.raw, reply.headers)
                if reply.stall:
                    return self._stall(reply, bool(body.get("stream")), body.get("model"))
                if reply.status != 200:
                    err = {"error": {"message": reply.text or "error", "type": "server_error"}}
                    return self._send(reply.status, json.dumps(err).encode(), reply.headers)
                if body.get("stream"):
                    return self._stream(reply)
                self._send(200, self._completion(reply, body.get("model")))

            def _completion(self, reply: Reply, model) -> bytes:
                msg = {"role": "assistant", "content": reply.text}
                out = {"id": "x", "object": "chat.completion", "created": 0, "model": model,
                       "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}]}  # fmt: skip
                return json.dumps(out).encode()

            def _stall(self, reply: Reply, stream: bool, model):
                # No Content-Length: the body ends when the connection closes (HTTP/1.0).
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
                self.end_headers()
                end = time.monotonic() + reply.stall
                try:
                    while time.monotonic() < end:
                        self.wfile.write(reply.filler)
                        self.wfile.flush()
                        time.sleep(reply.every)
                    if stream:
                        self._stream(reply, headers=False)
                    else:
                        self.wfile.write(self._completion(reply, model))
                except OSError:
                    pass  # the client hung up

            def _stream(self, reply: Reply, headers: bool = True):
                if headers:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                text = reply.text or ""
                size = max(1, len(text) // reply.pieces)
                for i in range(0, len(text), size):
                    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                             "choices": [{"index": 0, "delta": {"content": text[i : i + size]}, "finish_reason": None}]}  # fmt: skip
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _send(self, status, data, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
