"""A small OpenAI-compatible chat-completions server for the LLM extractor's tests.

It speaks the protocol faithfully enough for a client: `POST /v1/chat/completions` with
a JSON body, answers `{"choices": [{"message": {"role": "assistant", "content": ...}}]}`,
and can be told to answer 429 (with Retry-After), 500, garbage or a slow answer first.
Every request is recorded (headers and parsed body) for the test to inspect.
"""
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LLMStub:
    def __init__(self):
        self.requests = []
        # Each entry is consumed by one request: ("status", code[, retry_after]) / ("garbage",)
        # / ("answer", content_dict) / ("not_chat",) / ("slow", seconds, content_dict): the
        # answer after a delay. When empty, `default` answers.
        self.script = []
        self.default = ("answer", {"fields": {}})
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with stub._lock:
                    stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    step = stub.script.pop(0) if stub.script else stub.default
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "unknown path"}})
                if step[0] == "status":
                    extra = {"Retry-After": str(step[2])} if len(step) > 2 else {}
                    return self._send(step[1], {"error": {"message": "stub says %d" % step[1]}}, extra)
                if step[0] == "garbage":
                    return self._send(200, self._completion("this is not JSON at all {"))
                if step[0] == "not_chat":
                    return self._send(200, {"unexpected": True})
                if step[0] == "slow":
                    time.sleep(step[1])
                    return self._send(200, self._completion(json.dumps(step[2])))
                return self._send(200, self._completion(json.dumps(step[1])))

            def _completion(self, content):
                return {"id": "chatcmpl-stub", "object": "chat.completion", "model": "stub",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return "http://127.0.0.1:%d/v1" % self.server.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def serving(pool, **settings):
    """A started stub with the pool restarted to use it (LLM_MODEL stub-model plus `settings`),
    and the pool restarted without it afterwards."""
    stub = LLMStub().start()
    pool.restart(LLM_BASE_URL=stub.base_url, LLM_MODEL="stub-model", **settings)
    try:
        yield stub
    finally:
        stub.stop()
        pool.restart()
