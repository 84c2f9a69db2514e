"""The floor under the worker endpoint: the same FastAPI and uvicorn, and nothing of gridwatch.

`bench/api_load.py --peer` serves this app and drives it exactly as it drives the real server: each post
is read, parsed as JSON and checked for a bearer token, and a small JSON report comes back; no database,
no validation of the observation, no bus. What the real server spends per post beyond this is its own.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

app = FastAPI(title="api floor")
bearer = HTTPBearer(auto_error=False)


async def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    if credentials is None:
        raise HTTPException(401, "send a bearer token")
    return credentials.credentials


@app.get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/worker/observations")
async def deliver(request: Request, _token: Annotated[str, Depends(caller)]) -> Any:
    doc = json.loads(await request.body())
    items = doc["observations"] if isinstance(doc, dict) and "observations" in doc else [doc]
    results = [{"index": i, "status": 200, "episode_id": item.get("episode_id")} for i, item in enumerate(items)]
    return JSONResponse({"detail": f"{len(items)} applied, 0 refused", "errors": [], "results": results})


@app.get("/api/cases")
async def cases(_token: Annotated[str, Depends(caller)]) -> dict[str, Any]:
    return {"items": [], "next_cursor": None}


@app.get("/metrics")
async def metrics(_token: Annotated[str, Depends(caller)]) -> PlainTextResponse:
    return PlainTextResponse("")


if __name__ == "__main__":
    print("bench/api_floor.py is the peer that `bench/api_load.py --peer` serves and drives; nothing to run alone")
