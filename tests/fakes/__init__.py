"""Test doubles that speak real wire protocols over real sockets on 127.0.0.1."""

from tests.fakes._http import RecordedRequest
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer

__all__ = ["FakeAnthropicServer", "FakeOpenAIServer", "RecordedRequest"]
