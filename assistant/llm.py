"""Chat completions from OpenAI or any OpenAI-compatible server (vLLM, Ollama,
llama.cpp server, LM Studio) through the official `openai` client.

The client is used directly rather than through llama-index's OpenAI/OpenAILike
LLMs: the request carries only fields every compatible server accepts (model,
messages, max_tokens, temperature, stream), and retries, Retry-After and one
deadline for the whole answer are ours to control, so a slow or failing
server costs at most `openai_timeout` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from .errors import AssistantError
from .settings import Settings


class LLMError(AssistantError):
    """The model could not give an answer: unreachable, too slow, refused the
    request, or sent something that is not a completion."""


def _retry_after(err) -> float | None:
    response = getattr(err, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


class ChatClient:
    def __init__(self, settings: Settings):
        from openai import OpenAI

        self.model = settings.llm_model
        self.max_tokens = settings.llm_max_tokens
        self.temperature = settings.llm_temperature
        self.retries = settings.llm_retries
        self.budget = settings.openai_timeout
        self.client = OpenAI(
            api_key=settings.openai_api_key or "not-needed",  # local servers ignore it
            base_url=settings.openai_base_url,
            max_retries=0,  # retries are ours, within one deadline
            timeout=settings.openai_timeout,
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
                raise LLMError(f"the model server sent a malformed response: {_brief(e)}") from e
            wait = _retry_after(last)
            wait = min(8.0, 0.5 * 2**attempt) if wait is None else wait
            if attempt == self.retries or time.monotonic() + wait >= deadline:
                break
            time.sleep(wait)
        if last is None or isinstance(last, openai.APITimeoutError) or deadline - time.monotonic() <= 0.05:
            raise LLMError(f"the model server did not answer within {self.budget:g} s") from last
        raise LLMError(f"the model server failed: {_brief(last)}") from last

    def complete(self, messages: list[dict], max_tokens: int | None = None, deadline: float | None = None) -> str:
        """The completion text; LLMError if there is none within the deadline."""
        deadline = deadline or time.monotonic() + self.budget
        resp = self._request(messages, False, max_tokens, deadline)
        try:
            text = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise LLMError("the model server sent a response without a completion") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError("the model returned an empty completion")
        return text

    def stream(self, messages: list[dict], deadline: float | None = None) -> Iterator[str]:
        """Text deltas as they arrive. Failures before the first delta are
        retried; a failure later raises LLMError."""
        import openai

        deadline = deadline or time.monotonic() + self.budget
        stream = self._request(messages, True, None, deadline)
        got = False
        try:
            for chunk in stream:
                if time.monotonic() > deadline:
                    raise LLMError(f"the model server did not finish within {self.budget:g} s")
                choices = getattr(chunk, "choices", None) or []
                delta = getattr(choices[0], "delta", None) if choices else None
                text = getattr(delta, "content", None) if delta is not None else None
                if text:
                    got = True
                    yield text
        except (openai.APIError, ValueError) as e:
            raise LLMError(f"the model's stream broke off: {_brief(e)}") from e
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        if not got:
            raise LLMError("the model returned an empty completion")


def _brief(err: Exception | None) -> str:
    text = str(err) if err is not None else "unknown error"
    return text if len(text) < 200 else text[:200] + "…"
