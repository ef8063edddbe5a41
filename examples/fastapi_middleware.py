"""FastAPI: the seed's middleware, attaching each user's Attuned context to the request.

AGENTCELL_URL=http://127.0.0.1:8080 AGENTCELL_API_KEY=sk_live_1 uvicorn examples.fastapi_middleware:app
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from agentcell import AttunedClient, NotFoundError


def create_app(attuned: AttunedClient) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def add_attuned_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.attuned_context = None
        user_id = request.headers.get("X-User-ID")
        if user_id:
            with contextlib.suppress(NotFoundError):  # no state yet: answer unconditioned
                request.state.attuned_context = await attuned.get_context(user_id)
        return await call_next(request)

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, object]:
        context = request.state.attuned_context
        if context is None:
            return {"tone": None, "guidelines": []}
        return {"tone": context.tone, "guidelines": list(context.guidelines)}

    return app


app = create_app(
    AttunedClient(
        os.environ.get("AGENTCELL_URL", "http://127.0.0.1:8080"), api_key=os.environ.get("AGENTCELL_API_KEY")
    )
)
