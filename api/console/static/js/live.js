// WebRTC live view: offer (after ICE gathering, no trickle), the server answers with the camera's H.264.
import { api } from "./api.js";

function gatheringDone(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
    });
  });
}

// Start watching; resolves to {pc, stream, close()}. close() is idempotent and frees the server side too; it
// returns a promise settled when the server has heard it (a video wall reuses the place for the next view).
export async function startLive(cameraId, video, { stream = "sub", onState = () => {} } = {}) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addEventListener("track", (ev) => {
    video.srcObject = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
  });
  pc.addEventListener("connectionstatechange", () => onState(pc.connectionState));
  let viewerId = null;
  let closed = null;
  const close = () => {
    if (closed) return closed;
    pc.close();
    closed = viewerId
      ? api(`/api/live/${encodeURIComponent(viewerId)}`, { method: "DELETE", keepalive: true }).catch(() => {})
      : Promise.resolve();
    return closed;
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringDone(pc, 3000);
    const answer = await api(`/api/cameras/${encodeURIComponent(cameraId)}/live?stream=${stream}`, {
      method: "POST",
      json: { sdp: pc.localDescription.sdp, type: "offer" },
    });
    viewerId = answer.viewer_id;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    return { pc, stream: answer.stream, close };
  } catch (e) {
    close();
    throw e;
  }
}

// Frames the browser decoded so far (from getStats), for the status line and for tests.
export async function framesDecoded(pc) {
  let frames = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames;
}
