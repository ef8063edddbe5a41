"""LangChain: a system prompt conditioned on a user's Attuned context.

python examples/langchain_prompt.py http://127.0.0.1:8080 sk_live_1 user_123
"""

from __future__ import annotations

import asyncio
import sys

from langchain_core.prompts import ChatPromptTemplate, SystemMessagePromptTemplate

from agentcell import AttunedClient, PromptContext

SYSTEM = SystemMessagePromptTemplate.from_template(
    "{base_prompt}\n\n## Interaction Guidelines\n{guidelines}\n\nTone: {tone}\nVerbosity: {verbosity}"
)


def system_prompt(base_prompt: str, context: PromptContext) -> ChatPromptTemplate:
    """A chat prompt whose system message carries the user's guidelines, tone and verbosity."""
    return ChatPromptTemplate.from_messages([SYSTEM, ("human", "{question}")]).partial(
        base_prompt=base_prompt,
        guidelines="\n".join(f"- {g}" for g in context.guidelines),
        tone=context.tone,
        verbosity=context.verbosity.value,
    )


async def get_conditioned_prompt(client: AttunedClient, user_id: str, base_prompt: str) -> ChatPromptTemplate:
    return system_prompt(base_prompt, await client.get_context(user_id))


async def main(base_url: str, api_key: str, user_id: str) -> None:
    async with AttunedClient(base_url, api_key=api_key) as client:
        prompt = await get_conditioned_prompt(client, user_id, "You are a helpful assistant.")
    for message in prompt.format_messages(question="What should I do next?"):
        print(f"[{message.type}]\n{message.content}\n")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
