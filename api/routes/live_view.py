"""WebRTC live view: the browser posts an offer, the server answers with the camera's video."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from api.access import Role
from api.audit import AuditAction
from api.auth import LiveViewer, RecorderDep
from api.errors import AUTH, responses
from api.live_view import Gateway, LiveViewEnded
from api.routes.cameras import CameraId, through_gateway
from api.runtime import Runtime, RuntimeDep
from api.schemas import LiveAnswer, LiveOffer
from camera_config.urls import with_credentials
from ingest.sources import resolve_source

router = APIRouter(tags=["live"])


def _gateway(runtime: Runtime) -> Gateway:
    """How the live view opens a camera behind a GB/T 28181 gateway: the URL the gateway serves it on now
    (``play/start``, asked at every open of the feed, so a dropped stream is asked for again); StreamError
    naming the gateway when it cannot."""

    def resolve(url: str) -> str:
        source = through_gateway(runtime, resolve_source(url, allow_files=False))
        return with_credentials(source.url, source.username, source.password)

    return resolve


@router.post("/api/cameras/{camera_id}/live", status_code=201, responses=responses(*AUTH, 404, 422, 503))
async def start_live_view(
    camera_id: CameraId,
    offer: LiveOffer,
    principal: LiveViewer,
    runtime: RuntimeDep,
    audit: RecorderDep,
    stream: Annotated[
        Literal["main", "sub"], Query(description="sub (default, lighter; main when there is none) or main.")
    ] = "sub",
) -> LiveAnswer:
    """Answer a WebRTC offer with the camera's live H.264 video (passed through, never re-encoded).

    Non-trickle: send the offer after ICE gathering completed. However many people watch, the server
    pulls each camera stream once; the pull stops when the last viewer leaves. The access audit gets
    a ``live_view`` row now and a ``live_view_ended`` row with the duration when the view ends.
    """
    site = runtime.context.site
    camera = await run_in_threadpool(site.camera, camera_id)
    principal.scope.check(camera.grid_id, "camera", camera_id)

    def ended(view: LiveViewEnded) -> None:
        audit.record(AuditAction.LIVE_VIEW_ENDED, view.camera_id, f"{view.duration_s:.1f} s")

    session = await runtime.live_view.connect(
        camera,
        stream,
        offer.sdp,
        principal.user.username,
        lambda: site.credentials(camera_id),
        on_end=ended,
        gateway=_gateway(runtime),
    )
    try:
        await run_in_threadpool(audit.record, AuditAction.LIVE_VIEW, camera.id, f"{session.stream} stream")
    except BaseException:
        await runtime.live_view.disconnect(session.viewer_id)  # no unrecorded viewing
        raise
    return LiveAnswer(viewer_id=session.viewer_id, sdp=session.answer_sdp, stream=session.stream)


@router.delete("/api/live/{viewer_id}", status_code=204, responses=responses(*AUTH, 404))
async def stop_live_view(
    viewer_id: Annotated[str, Path(min_length=1, max_length=64)], principal: LiveViewer, runtime: RuntimeDep
) -> None:
    """Close a live view (closing the page does too, after the connection times out)."""
    owner = None if principal.user.role is Role.ADMIN else principal.user.username
    await runtime.live_view.disconnect(viewer_id, owner=owner)
