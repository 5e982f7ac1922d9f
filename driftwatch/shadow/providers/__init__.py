"""LLM providers driftwatch calls for shadow replays and LLM judges.

``base`` holds the :class:`Provider` protocol; ``factory.build_provider`` makes one from the policy file.
Implementations: ``openai_compatible.OpenAICompatibleProvider``, ``anthropic_messages.AnthropicProvider``
(both on ``sdk_provider`` and the shared ``retry`` policy) and ``replay.ReplayProvider`` (recorded
answers). Nothing is re-exported here, so importing the protocol never loads the vendor SDKs.
"""
