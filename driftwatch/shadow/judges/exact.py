"""The exact judge: do both answers name the same label?

Meant for classification-like classes, where an answer is a label ("positive", "B", "spam").  It
compares the answers after :func:`normalise_label` and never guesses:

- equal labels → acceptable, score 1 (whatever their length: identical text is never worse);
- different labels → unacceptable, score 0;
- otherwise undecided, so the chain moves on to a judge that can grade text:

  * either answer is free text — several lines, more than ``max_label_chars`` characters or more
    than ``max_label_words`` words: an exact mismatch between two sentences says nothing about their
    quality ("The capital is Paris." and "Paris is the capital." differ, and both are right);
  * one label's words are a run of the other's ("B" in "the answer is B", "positive" in "not
    positive"): that is a difference of wording a label match cannot settle either way.

Normalisation removes formatting only, never meaning: Unicode compatibility forms, case, whitespace
runs, surrounding quotes, markdown emphasis (``*``, ``_``), trailing sentence punctuation, one pair of
enclosing brackets ("(B)"), and a leading ``Answer:`` / ``Final answer:`` / ``Label:`` marker.  A
minus sign, a percent sign or a leading dot are kept: "-1" and "1" are different labels.
"""

from __future__ import annotations

import re
import unicodedata

from driftwatch.shadow.judges.base import JudgeCase, Verdict

DEFAULT_MAX_LABEL_CHARS = 64
# Labels are a few words ("not spam", "billing refund request"); past that an answer is a sentence,
# and a wrongly rejected sentence would read as a degraded class, so it goes to a judge that reads.
DEFAULT_MAX_LABEL_WORDS = 3

_QUOTES_AND_EMPHASIS = " \"'`\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u2039\u203a*_"
_TRAILING_PUNCTUATION = ".,;:!?\u2026\u3002"
_ENCLOSING = {"(": ")", "[": "]"}
_ANSWER_MARKER = re.compile(r"^(?:final\s+)?(?:answer|label)\s*[:=]\s*")
_WORD = re.compile(r"\w+")


def normalise_label(text: str) -> str:
    """The label an answer names, with formatting removed (see the module docstring). Idempotent."""
    # casefold can produce characters NFKC would rewrite, so normalise on both sides of it.
    label = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    label = " ".join(label.split())
    previous = None
    while label != previous:  # wrappers nest ('"**B**."'), so peel until nothing changes
        previous = label
        label = label.strip(_QUOTES_AND_EMPHASIS).rstrip(_TRAILING_PUNCTUATION)
        label = _ANSWER_MARKER.sub("", label, count=1)
        if _is_enclosed(label):
            label = label[1:-1]
    return label


def _is_enclosed(label: str) -> bool:
    """True for "(b)" but not for "(a) or (b)", whose first bracket closes before the end."""
    if len(label) < 2 or _ENCLOSING.get(label[0]) != label[-1]:
        return False
    opener, closer, depth = label[0], label[-1], 0
    for position, char in enumerate(label):
        depth += (char == opener) - (char == closer)
        if depth == 0 and position < len(label) - 1:
            return False
    return depth == 0


def _contains_words(longer: str, shorter: str) -> bool:
    """Whether ``shorter``'s words appear as a contiguous run among ``longer``'s words."""
    outer, inner = _WORD.findall(longer), _WORD.findall(shorter)
    if not inner:
        return False
    return any(outer[start : start + len(inner)] == inner for start in range(len(outer) - len(inner) + 1))


def _quoted(label: str, limit: int = 40) -> str:
    return repr(label if len(label) <= limit else label[: limit - 1] + "\u2026")


class ExactJudge:
    """Normalised label equality; free of charge. See the module docstring for when it abstains."""

    def __init__(
        self, max_label_chars: int = DEFAULT_MAX_LABEL_CHARS, max_label_words: int = DEFAULT_MAX_LABEL_WORDS
    ) -> None:
        self._max_label_chars = max_label_chars
        self._max_label_words = max_label_words

    @property
    def name(self) -> str:
        return "exact"

    def estimated_cost_usd(self, case: JudgeCase) -> float:
        return 0.0

    async def judge(self, case: JudgeCase) -> Verdict:
        return self.compare(case.candidate, case.reference)

    def compare(self, candidate: str, reference: str) -> Verdict:
        """The verdict on two answers (synchronous: no I/O happens here)."""
        ours, theirs = normalise_label(candidate), normalise_label(reference)
        if ours == theirs:
            return Verdict(self.name, True, 1.0, f"same label {_quoted(ours)}")
        if self._is_free_text(candidate, ours) or self._is_free_text(reference, theirs):
            return Verdict(self.name, None, None, "free text, not a label: an exact mismatch says nothing")
        if _contains_words(ours, theirs) or _contains_words(theirs, ours):
            return Verdict(
                self.name,
                None,
                None,
                f"{_quoted(ours)} and {_quoted(theirs)} share words: a wording difference, not a label one",
            )
        return Verdict(self.name, False, 0.0, f"different labels: {_quoted(ours)} vs {_quoted(theirs)}")

    def _is_free_text(self, raw: str, label: str) -> bool:
        return (
            "\n" in raw.strip()
            or len(label) > self._max_label_chars
            or len(label.split()) > self._max_label_words
        )
