"""Pure: LiteLLM's ``otel`` callback (SDK, ``Router`` and proxy) in the terms of the other conventions.

What LiteLLM really emits (captured in ``tests/fixtures/instrumentations/litellm/``, litellm 1.110):

* one ``litellm_request`` span per provider response (``chat <model>`` with
  ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``), scope ``litellm``, always carrying
  ``litellm.call_id``.  Its ``gen_ai.operation.name`` (and ``llm.request.type``) is LiteLLM's *call type*
  unless the semconv opt-in is on: ``completion``, ``acompletion``, ``atext_completion``, ``aembedding`` …;
* around it, spans that are not calls: ``raw_gen_ai_request`` (the provider's raw answer as
  ``llm.<provider>.*``), the proxy's ``Received Proxy Server Request``, ``auth``, ``router``,
  ``proxy_pre_call``, ``self`` (service timings), and FastAPI's own;
* through a proxy (or a ``Router``) ``litellm.model_group`` is the alias the client asked for; the proxy
  also reports it as ``gen_ai.response.model``, while ``gen_ai.request.model`` and
  ``litellm.provider.model`` (``openai/gpt-4o-mini``) name the model that really ran;
* the proxy request body's ``metadata`` arrives as ``metadata.requester_metadata``: ``str()`` of a Python
  dict, with the request's HTTP headers under ``headers`` (so driftwatch's shadow marker header is there);
  keys listed in ``LITELLM_OTEL_BAGGAGE_METADATA_KEYS`` (``requester_metadata.task_class``) also arrive as
  ``litellm.metadata.<key>``.

:func:`as_conventions` rewrites such a span so the generic mapping reads it right: a call type becomes the
GenAI operation, the alias gives way to the real model (it stays in ``litellm.model_group``, which the
model → tier map also looks up), the requester metadata becomes ``litellm.metadata.<key>`` attributes
(the policy's default classification keys include ``litellm.metadata.task_class`` / ``.tier``) and a
replay that driftwatch sent through the proxy gets the shadow marker.  Any other span passes unchanged.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping

from driftwatch.ingest.otlp import AttributeValue, SpanView
from driftwatch.ingest.shadow_marker import SHADOW_MARKER_ATTRIBUTE, SHADOW_MARKER_HEADER

SCOPE_NAME = "litellm"
CALL_ID = "litellm.call_id"
MODEL_GROUP = "litellm.model_group"
PROVIDER_MODEL = "litellm.provider.model"
REQUESTER_METADATA = "metadata.requester_metadata"
CUSTOM_HEADERS = "metadata.requester_custom_headers"
METADATA_PREFIX = "litellm.metadata."
# A span whose operation is none of the GenAI ones is not a call, whatever else it carries.
NOT_A_CALL = "litellm.internal"

# LiteLLM call types (``CallTypes``) that are one chat or completion response each; the ``a`` prefix is
# the async variant of the same call.
_CALL_TYPES = {
    "completion": "chat",
    "chat": "chat",
    "text_completion": "text_completion",
    "responses": "chat",
    "anthropic_messages": "chat",
    "generate_content": "generate_content",
}
_NOT_CALL_TYPES = {"embedding": "embeddings", "rerank": "rerank"}
# Python literals cost time and memory to parse: bigger metadata is not read (it is headers and tags
# of one request; kilobytes, not megabytes).
_MAX_LITERAL_CHARS = 16_384
_MAX_METADATA_KEYS = 32
_MAX_KEY_CHARS = 64
_MAX_VALUE_CHARS = 255


def is_litellm(span: SpanView) -> bool:
    return span.scope_name == SCOPE_NAME or CALL_ID in span.attributes


def as_conventions(span: SpanView) -> SpanView:
    """``span`` as the generic mapping should read it (itself when it is not LiteLLM's)."""
    if not is_litellm(span):
        return span
    attributes = dict(span.attributes)
    if CALL_ID not in attributes:
        # Only the request span is a call; the rest are LiteLLM's plumbing around it.
        attributes["gen_ai.operation.name"] = NOT_A_CALL
        return dataclasses.replace(span, attributes=attributes)
    operation = _operation(attributes.get("gen_ai.operation.name"))
    if operation:
        attributes["gen_ai.operation.name"] = operation
    model = real_model(attributes)
    if model:
        attributes["gen_ai.response.model"] = model
    requester = requester_metadata(attributes.get(REQUESTER_METADATA))
    for key, value in _scalars(requester).items():
        attributes.setdefault(METADATA_PREFIX + key, value)
    marker = _shadow_header(requester.get("headers")) or _shadow_header(
        _literal(attributes.get(CUSTOM_HEADERS))
    )
    if marker is not None:
        attributes.setdefault(SHADOW_MARKER_ATTRIBUTE, marker)  # judged like any other marker value
    return dataclasses.replace(span, attributes=attributes)


def real_model(attributes: Mapping[str, AttributeValue]) -> str | None:
    """The model that ran, when the span reports the alias (``litellm.model_group``) in its place."""
    alias = _text(attributes.get(MODEL_GROUP))
    reported = _text(attributes.get("gen_ai.response.model"))
    if alias is None or (reported is not None and reported != alias):
        return None
    for candidate in (
        _text(attributes.get("gen_ai.request.model")),
        # "openai/gpt-4o-mini": the provider prefix is LiteLLM's routing, not the model's name.
        (_text(attributes.get(PROVIDER_MODEL)) or "").split("/", 1)[-1] or None,
    ):
        if candidate and candidate != alias:
            return candidate
    return None


def model_alias(attributes: Mapping[str, AttributeValue]) -> str | None:
    """The alias a LiteLLM ``Router`` or proxy was asked for: what a model → tier map may name."""
    return _text(attributes.get(MODEL_GROUP))


def requester_metadata(value: AttributeValue) -> dict[str, object]:
    """The proxy request body's ``metadata``, parsed from the Python literal LiteLLM exports.

    ``ast.literal_eval`` evaluates literals only (never code); anything oversized, malformed or not a
    dict gives ``{}``."""
    found = _literal(value)
    return found if isinstance(found, dict) else {}


def _literal(value: AttributeValue) -> object:
    if not isinstance(value, str) or not value or len(value) > _MAX_LITERAL_CHARS:
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _operation(value: AttributeValue) -> str | None:
    call_type = _text(value)
    if call_type is None:
        return None
    for name in (call_type, call_type.removeprefix("a")):
        if name in _CALL_TYPES:
            return _CALL_TYPES[name]
        if name in _NOT_CALL_TYPES:
            return _NOT_CALL_TYPES[name]
    return None  # a GenAI operation name already (semconv opt-in), or one the mapping judges itself


def _scalars(metadata: dict[str, object]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in metadata.items():
        if len(found) == _MAX_METADATA_KEYS:
            break
        if (
            isinstance(key, str)
            and 0 < len(key) <= _MAX_KEY_CHARS
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            found[key] = str(value)[:_MAX_VALUE_CHARS]
    return found


def _shadow_header(headers: object) -> str | None:
    if isinstance(headers, dict):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == SHADOW_MARKER_HEADER.lower():
                return str(value)[:_MAX_VALUE_CHARS]
    return None


def _text(value: AttributeValue) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None
