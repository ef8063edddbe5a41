"""An example agentcell plugin in Python, built into a component by componentize-py
(`make plugins`): the keywords of a text.

Input ``{"text": "...", "top": 3}`` (as a workflow step: the task context's
``"text"``; as a flow agent: the node input's); output
``{"keywords": [["word", count], ...], "sentences": n}``: the `top` most frequent words
(ties in alphabetical order) that are not stop words."""

from __future__ import annotations

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import plugin
from wit_world.imports import host

STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "in",
        "is", "it", "its", "of", "on", "or", "that", "the", "to", "was", "were", "will", "with",
    }
)  # fmt: skip
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _invalid(message: str) -> Err[plugin.Error]:
    return Err(plugin.Error(kind=plugin.ErrorKind.INVALID_INPUT, message=message))


def keywords(text: str, top: int) -> dict[str, object]:
    counts: dict[str, int] = {}
    for word in WORD.findall(text.lower()):
        if word not in STOP_WORDS:
            counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    sentences = len([s for s in re.split(r"[.!?]+", text) if s.strip()])
    return {"keywords": [[w, n] for w, n in ranked], "sentences": sentences}


class Plugin(exports.Plugin):
    """The export `plugin`: componentize-py finds it by the interface's name."""

    def describe(self) -> plugin.Info:
        return plugin.Info(name="py-keywords", version="0.1.0", description="The keywords of a text (Python)")

    def call(self, input: str) -> str:
        try:
            value = json.loads(input)
        except ValueError as e:
            raise _invalid(f"input is not JSON: {e}") from None
        if not isinstance(value, dict):
            raise _invalid('input must be an object with a string "text"')
        # As a workflow step: the task context's text; as a flow agent: the node input's.
        nested = value.get("context", value.get("input"))
        text = value.get("text", nested.get("text") if isinstance(nested, dict) else None)
        top = value.get("top", 3)
        if not isinstance(text, str):
            raise _invalid('input must be an object with a string "text"')
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
            raise _invalid('"top" must be an integer in 1..=100')
        host.log(host.LogLevel.DEBUG, f"keywords of {len(text)} characters")
        return json.dumps(keywords(text, top))
