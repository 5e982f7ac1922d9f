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

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_IDS = itertools.count(1)


def build_app(latency: float, answer: str) -> Starlette:
    async def chat_completions(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(latency)
        prompt_chars = sum(len(str(message.get("content", ""))) for message in body["messages"])
        return JSONResponse(
            {
                "id": f"chatcmpl-bench-{next(_IDS)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
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
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])


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
