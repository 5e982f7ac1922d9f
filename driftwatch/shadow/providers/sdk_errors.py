"""What the ``openai`` and ``anthropic`` SDKs raise, translated into :class:`ProviderError`.

Both SDKs are generated from the same template and share one exception hierarchy (status error with the
HTTP response, connection error, its timeout subclass, response validation error), so one translation
serves both providers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import anthropic
import openai

from driftwatch.shadow.providers.base import ProviderError
from driftwatch.shadow.providers.retry import TransientError, malformed, status_failure


@contextmanager
def sdk_errors(provider: str) -> Iterator[None]:
    """Wrap one SDK call: whatever it raises leaves as a :class:`ProviderError` naming ``provider``,
    a :class:`TransientError` when another attempt may succeed."""
    try:
        yield
    except (openai.APIStatusError, anthropic.APIStatusError) as error:
        raise status_failure(provider, error.status_code, error.response.headers, error.message) from error
    except (openai.APITimeoutError, anthropic.APITimeoutError) as error:
        raise TransientError(f"{provider}: request timed out") from error
    except (openai.APIConnectionError, anthropic.APIConnectionError) as error:
        raise TransientError(f"{provider}: connection failed: {error}") from error
    except (openai.APIResponseValidationError, anthropic.APIResponseValidationError) as error:
        raise malformed(provider, error.message) from error
    except json.JSONDecodeError as error:  # the SDKs let a body that is not JSON escape as is
        raise malformed(provider, f"body is not JSON ({error})") from error
    except (openai.OpenAIError, anthropic.AnthropicError) as error:
        # Refused by the SDK before sending (bad arguments, missing credentials): a retry changes nothing.
        raise ProviderError(f"{provider}: {error}", retryable=False) from error
