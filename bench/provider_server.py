"""A local OpenAI-compatible chat-completions server that answers after a fixed latency.

Run as its own process by ``bench/shadow.py`` so the provider's CPU does not compete with the
runner for the same interpreter:

    python bench/provider_server.py --port 8011 --latency 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import uvicorn

_IDS = itertools.count(1)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def build_app(latency: float, answer: str) -> App:
    """A bare ASGI app (no framework: the server shares the benchmark's two cores, so the less CPU it
    spends per request the more the benchmark measures the client) answering ``POST
    /v1/chat/completions`` with a real chat-completions body, and 404 to anything else."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            await _respond(send, 404, b'{"error": {"message": "not found"}}')
            return
        request = orjson.loads(body)
        await asyncio.sleep(latency)
        prompt_chars = sum(len(str(message.get("content", ""))) for message in request["messages"])
        completion = {
            "id": f"chatcmpl-bench-{next(_IDS)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_chars // 4 + 1,
                "completion_tokens": len(answer) // 4 + 1,
                "total_tokens": prompt_chars // 4 + len(answer) // 4 + 2,
            },
        }
        await _respond(send, 200, orjson.dumps(completion))

    return app


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--answer", default="Paris")
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.latency, args.answer),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
