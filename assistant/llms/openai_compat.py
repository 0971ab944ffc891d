"""Chat completions from OpenAI or any OpenAI-compatible server (vLLM, Ollama,
llama.cpp server, LM Studio) through the official `openai` client.

The client is used directly rather than through llama-index's OpenAI/OpenAILike
LLMs: the request carries only fields every compatible server accepts (model,
messages, max_tokens, temperature, stream), and retries, Retry-After and one
deadline for the whole answer are ours to control, so a slow or failing
server costs at most `openai_timeout` seconds.

httpx's timeouts bound each read, not a whole response: a server that keeps
sending something (SSE comments such as `: keep-alive`, which the openai
client swallows, whitespace before a JSON body, empty deltas, a trickle of
text) would hold an answer open for as long as it likes. So each call is
also watched: at the deadline a timer shuts down the sockets of the call's
connections, which ends any read at once, and the stream is checked against
the deadline between events.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from functools import cache

from assistant.errors import LLMError
from assistant.settings import LLMSettings


def _retry_after(err) -> float | None:
    response = getattr(err, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


class _Watchdog:
    """Cuts one client's connections when a call's deadline passes.

    Every connection the client opens is recorded (an httpcore `trace` hook
    added to each request, so a server that never sends its headers is
    covered too) along with the one each response arrived on; `fire` shuts
    their sockets down, so a blocked read returns at once and the request or
    stream fails, which the client reports as a timeout. A ChatClient serves
    one answer at a time (the pipeline makes one per answer).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._streams: list = []
        self._timer: threading.Timer | None = None
        self._call = 0  # counts calls, so that a timer of an earlier call does nothing
        self.fired = False

    def on_request(self, request) -> None:  # httpx event hook
        chained = request.extensions.get("trace")

        def trace(name: str, info: dict) -> None:
            if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                self._add(info.get("return_value"))
            if chained is not None:
                chained(name, info)

        request.extensions["trace"] = trace

    def on_response(self, response) -> None:  # httpx event hook
        self._add(response.extensions.get("network_stream"))

    def _add(self, stream) -> None:
        if stream is None:
            return
        with self._lock:
            if stream not in self._streams:
                self._streams.append(stream)
            fired = self.fired
        if fired:
            _shut(stream)

    def arm(self, deadline: float) -> None:
        self.disarm()
        with self._lock:
            self.fired = False
            # Connections closed since (the pool dropped them) need no watching.
            self._streams = [s for s in self._streams if not _closed(s)]
            call = self._call
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self.fire, args=(call,))
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        # Timer.cancel() cannot stop a timer whose wait is over: the call
        # counter makes such a late fire() a no-op for the next call.
        with self._lock:
            self._call += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def fire(self, call: int) -> None:
        with self._lock:
            if call != self._call:
                return  # the call it was armed for is over
            self.fired = True
            streams, self._streams = self._streams, []
        for stream in streams:
            _shut(stream)


def _closed(stream) -> bool:
    try:
        sock = stream.get_extra_info("socket")
        return sock is None or sock.fileno() == -1
    except (OSError, AttributeError, ValueError):
        return True


def _shut(stream) -> None:
    try:
        sock = stream.get_extra_info("socket")
        if sock is not None:
            # The plain socket's shutdown, also for TLS: SSLSocket.shutdown
            # would drop its TLS state under the thread reading from it.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, AttributeError, ValueError):
        pass  # already closed


@cache
def _http_client_class():
    """openai's httpx client class (imported on first use), closing itself
    when dropped as the SDK's own does, so idle connections go with it."""
    from openai import DefaultHttpxClient  # the SDK's defaults (timeouts, limits, redirects)

    class HttpClient(DefaultHttpxClient):
        def __del__(self):
            try:
                self.close()
            except Exception:
                pass

    return HttpClient


class ChatClient:
    """A `ChatModel` (llms/base.py) for OpenAI or any OpenAI-compatible server;
    every failure is an `LLMError`."""

    def __init__(self, settings: LLMSettings):
        from openai import OpenAI

        self.model = settings.llm_model
        self.max_tokens = settings.llm_max_tokens
        self.temperature = settings.llm_temperature
        self.retries = settings.llm_retries
        self.budget = settings.openai_timeout
        self.watchdog = _Watchdog()
        self.client = OpenAI(
            api_key=settings.openai_api_key or "not-needed",  # local servers ignore it
            base_url=settings.openai_base_url,
            max_retries=0,  # retries are ours, within one deadline
            timeout=settings.openai_timeout,
            http_client=_http_client_class()(
                event_hooks={"request": [self.watchdog.on_request], "response": [self.watchdog.on_response]}
            ),
        )

    def _request(self, messages: list[dict], stream: bool, max_tokens: int | None, deadline: float):
        import openai

        last: Exception | None = None
        for attempt in range(self.retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0.05:
                break
            try:
                return self.client.with_options(timeout=remaining).chat.completions.create(
                    model=self.model,
                    messages=messages,
                    max_tokens=max_tokens or self.max_tokens,
                    temperature=self.temperature,
                    stream=stream,
                )
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as e:
                last = e  # 429, 5xx, refused or timed out: worth another try
            except openai.APIStatusError as e:
                raise LLMError(f"the model server answered HTTP {e.status_code}: {_brief(e)}") from e
            except (openai.APIError, ValueError) as e:
                if self.watchdog.fired:  # a body cut off at the deadline
                    raise LLMError(f"the model server did not answer within {self.budget:g} s") from e
                raise LLMError(f"the model server sent a malformed response: {_brief(e)}") from e
            wait = _retry_after(last)
            wait = min(8.0, 0.5 * 2**attempt) if wait is None else wait
            if attempt == self.retries or time.monotonic() + wait >= deadline:
                break
            time.sleep(wait)
        late = self.watchdog.fired or deadline - time.monotonic() <= 0.05
        if last is None or late or isinstance(last, openai.APITimeoutError):
            raise LLMError(f"the model server did not answer within {self.budget:g} s") from last
        raise LLMError(f"the model server failed: {_brief(last)}") from last

    def complete(self, messages: list[dict], max_tokens: int | None = None, deadline: float | None = None) -> str:
        """The completion text; LLMError if there is none within the deadline."""
        deadline = deadline or time.monotonic() + self.budget
        self.watchdog.arm(deadline)
        try:
            resp = self._request(messages, False, max_tokens, deadline)
        finally:
            self.watchdog.disarm()
        try:
            text = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise LLMError("the model server sent a response without a completion") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError("the model returned an empty completion")
        return text

    def stream(self, messages: list[dict], deadline: float | None = None) -> Iterator[str]:
        """Text deltas as they arrive. Failures before the first delta are
        retried; a failure later raises LLMError, and so does the deadline,
        whatever the server keeps sending."""
        import httpx
        import openai

        deadline = deadline or time.monotonic() + self.budget
        late = LLMError(f"the model server did not finish within {self.budget:g} s")
        self.watchdog.arm(deadline)
        stream = None
        got = False
        try:
            stream = self._request(messages, True, None, deadline)
            for chunk in stream:
                if self.watchdog.fired or time.monotonic() > deadline:  # empty deltas, a trickle
                    raise late
                choices = getattr(chunk, "choices", None) or []
                delta = getattr(choices[0], "delta", None) if choices else None
                text = getattr(delta, "content", None) if delta is not None else None
                if text:
                    got = True
                    yield text
            if self.watchdog.fired:  # the body ended because the watchdog cut it
                raise late
        except (openai.APIError, httpx.HTTPError, ValueError) as e:
            if self.watchdog.fired or time.monotonic() > deadline:
                raise late from e
            raise LLMError(f"the model's stream broke off: {_brief(e)}") from e
        finally:
            self.watchdog.disarm()
            close = getattr(stream, "close", None)
            if close:
                close()
        if not got:
            raise LLMError("the model returned an empty completion")


def _brief(err: Exception | None) -> str:
    text = str(err) if err is not None else "unknown error"
    return text if len(text) < 200 else text[:200] + "…"
