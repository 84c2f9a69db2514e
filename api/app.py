"""FastAPI application factory; the shell builds an `ApiContext` and passes it in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from api import errors
from api.context import ApiContext
from api.schemas import Health, TreeNodePublic


def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.context
    return ctx


ContextDep = Annotated[ApiContext, Depends(get_context)]


def create_app(context: ApiContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context = context
        yield

    app = FastAPI(title="gridwatch", version="0.1.0", lifespan=lifespan)
    app.state.context = context
    errors.install(app)

    @app.get("/api/health", tags=["service"])
    def health(ctx: ContextDep) -> Health:
        """Liveness and database reachability; the only route that never needs a login."""
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            db = "ok"
        except Exception as exc:
            db = f"error: {type(exc).__name__}"
        return Health(status="ok" if db == "ok" else "degraded", database=db)

    @app.get("/api/site/tree", tags=["site"])
    def site_tree(
        ctx: ContextDep,
        cameras: Annotated[bool, Query(description="Include each camera as a leaf.")] = False,
    ) -> list[TreeNodePublic]:
        """Street → community → property company → compound, with camera counts and each community's grids."""
        return [TreeNodePublic.of(n) for n in ctx.site.tree(with_cameras=cameras)]

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(_INDEX)

    return app


_INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gridwatch</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem;color:#1d2733}li{margin:.15rem 0}
.n{color:#5b6b7c;font-size:13px}</style></head><body><h1>gridwatch</h1>
<p>Site tree (<a href="/api/site/tree">JSON</a>, <a href="/docs">API docs</a>)</p><ul id="tree"></ul>
<script>
function render(nodes, ul){for(const n of nodes){const li=document.createElement('li');
li.textContent=n.name+' ';const s=document.createElement('span');s.className='n';
s.textContent='('+n.kind.replace('_',' ')+', '+n.cameras+' cameras)';li.appendChild(s);
if(n.children.length){const c=document.createElement('ul');render(n.children,c);li.appendChild(c);}
ul.appendChild(li);}}
fetch('/api/site/tree').then(r=>r.json()).then(t=>render(t,document.getElementById('tree')));
</script></body></html>"""
