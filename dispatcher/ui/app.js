// The task page: polls the dispatcher's API every second and updates the tables in place.
// No framework, no build step, nothing loaded from outside the farm.
"use strict";

const SERVICES = ["panorama", "recorder", "pusher"];
const TERMINAL = new Set(["finished", "canceled"]);
const LIVE = new Set(["recording", "pushing", "paused"]);
const CONTROLS = { recording: ["Pause", "Stop"], pushing: ["Pause", "Stop"],
                   paused: ["Resume", "Stop"], normal: ["Stop"] };
const POLL_MS = 1000;
const LIMIT = 50;
// The dispatcher may sit under a path prefix: the API is next to /ui/.
const BASE = location.pathname.replace(/\/ui\/.*$/, "");
const FLOWER_PORT = document.querySelector('meta[name="capstan-flower-port"]').content;
const FLOWER = `${location.protocol}//${location.hostname}:${FLOWER_PORT}`;

const page = { selected: null, playing: null, creds: loadCreds() };

// ---- API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(`${body.ErrorCode || "HTTP " + status}: ${body.ErrorMessage || ""}`);
    this.status = status;
    this.code = body.ErrorCode;
  }
}

async function api(method, path, body) {
  const raw = body === undefined ? "" : JSON.stringify(body);
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  if (page.creds) Object.assign(headers, await sign(method, path, raw));
  const response = await fetch(BASE + path, { method, headers, body: raw || undefined,
                                              cache: "no-store" });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

// workers/common/domain/signing.py: hex HMAC-SHA256(secret, "METHOD\npath\ndate\nsha256hex(body)").
async function sign(method, path, raw) {
  if (!window.crypto || !crypto.subtle) {
    throw new Error("signing needs a secure context (https, or 127.0.0.1 / localhost)");
  }
  const enc = new TextEncoder();
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const date = new Date().toUTCString();
  const digest = hex(await crypto.subtle.digest("SHA-256", enc.encode(raw)));
  const key = await crypto.subtle.importKey("raw", enc.encode(page.creds.secret),
                                            { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const text = `${method}\n${path}\n${date}\n${digest}`;
  const signature = hex(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
  return { "X-Capstan-Key": page.creds.key, "X-Capstan-Date": date,
           "X-Capstan-Signature": signature };
}

function loadCreds() {
  const saved = sessionStorage.getItem("capstan-creds");
  return saved ? JSON.parse(saved) : null;
}

// ---- formatting --------------------------------------------------------------------

function clock(unix) {
  if (!unix) return "";
  const when = new Date(unix * 1000);
  const today = new Date().toDateString() === when.toDateString();
  return today ? when.toLocaleTimeString() : when.toLocaleString();
}

function hms(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function bytes(n) {
  if (!n) return "";
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}

function video(task) { return ((task.Result || {}).Videos || [])[0]; }
function failure(task) { return (task.Result || {}).ErrorCode; }

function duration(task) {
  const file = video(task), progress = task.Progress || {};
  if (file && file.FileDuration) return hms(file.FileDuration);
  if (progress.Duration) return `${hms(progress.Position)} / ${hms(progress.Duration)}`;
  if (progress.RecordedSeconds !== undefined) return hms(progress.RecordedSeconds);
  if (!task.StartTime) return "";
  const end = task.FinishTime || task.StopTime || task.CancelTime || Date.now() / 1000;
  return hms(end - task.StartTime);
}

function size(task) {
  const file = video(task);
  return bytes(file ? file.FileSize : (task.Progress || {}).Bytes);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value; else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function badge(task) {
  const failed = failure(task);
  const span = el("span", { class: `status ${task.Status}${failed ? " failed" : ""}`,
                            "data-status": task.Status, text: task.Status });
  if (failed) span.title = `${failed}: ${task.Result.ErrorMessage || ""}`;
  return span;
}

// ---- the tables --------------------------------------------------------------------

function section(service) {
  let box = document.getElementById(`svc-${service}`);
  if (box) return box.querySelector("tbody");
  const head = ["task", "state", "created", "started", "ended", "duration", "size", ""];
  box = el("div", { id: `svc-${service}`, class: "service", "data-service": service },
    el("h2", { text: service }),
    el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
       el("tbody")));
  document.getElementById("services").append(box);
  return box.querySelector("tbody");
}

function row(task) {
  const id = task.TaskID;
  const ended = task.FinishTime || task.CancelTime || task.StopTime;
  const flower = el("a", { href: `${FLOWER}/task/${id}`, target: "_blank", rel: "noopener",
                           text: "Flower" });
  flower.addEventListener("click", (event) => event.stopPropagation());
  const tr = el("tr", { class: "task", "data-task-id": id },
    el("td", { class: "id", title: id, text: id.slice(0, 8) }),
    el("td", {}, badge(task)),
    el("td", { text: clock(task.CreateTime) }),
    el("td", { text: clock(task.StartTime) }),
    el("td", { text: clock(ended) }),
    el("td", { class: "duration", text: duration(task) }),
    el("td", { text: size(task) }),
    el("td", {}, flower));
  if (id === page.selected) tr.classList.add("selected");
  tr.addEventListener("click", () => select(id));
  return tr;
}

function renderTables(tasks) {
  for (const service of SERVICES) {
    const body = section(service);
    const mine = tasks.filter((t) => t.Service === service);
    const rows = mine.length ? mine.map(row)
      : [el("tr", {}, el("td", { class: "empty", colspan: "8", text: "no tasks" }))];
    body.replaceChildren(...rows);
  }
}

// ---- the chosen task ---------------------------------------------------------------

function select(id) {
  page.selected = id;
  document.querySelectorAll("tr.task").forEach((tr) =>
    tr.classList.toggle("selected", tr.dataset.taskId === id));
  refreshDetail();
}

async function refreshDetail() {
  if (!page.selected) return;
  const task = await api("GET", `/v1/tasks/${page.selected}`);
  if (task.TaskID !== page.selected) return;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-id").textContent = task.TaskID;
  renderFacts(task);
  renderActions(task);
  renderPlayer(task);
  renderCallbacks(task);
}

function renderFacts(task) {
  const facts = [["service", task.Service], ["state", badge(task)],
                 ["created", clock(task.CreateTime)], ["started", clock(task.StartTime)],
                 ["stopped", clock(task.StopTime || task.CancelTime)],
                 ["finished", clock(task.FinishTime)], ["duration", duration(task)],
                 ["size", size(task)]];
  if (failure(task)) facts.push(["error", `${failure(task)}: ${task.Result.ErrorMessage || ""}`]);
  const file = video(task);
  if (file) {
    facts.push(["file", el("a", { href: file.FileURL, text: file.Filename || file.FileURL })]);
  }
  const dl = document.getElementById("detail-facts");
  dl.replaceChildren(...facts.filter(([, v]) => v).flatMap(([k, v]) =>
    [el("dt", { text: k }), el("dd", {}, v)]));
}

function renderActions(task) {
  const box = document.getElementById("detail-actions");
  const actions = [...(CONTROLS[task.Status] || [])];
  if (task.Service === "panorama" && LIVE.has(task.Status)) actions.splice(1, 0, "Refresh");
  box.replaceChildren(...actions.map((action) => {
    const button = el("button", { type: "button", "data-action": action, text: action });
    button.addEventListener("click", () =>
      api("POST", `/v1/${task.Service}`, { Action: action, Data: { TaskID: task.TaskID } })
        .then(refreshDetail).catch(showError));
    return button;
  }));
}

// MP4 plays everywhere. HLS plays where the browser plays it natively (Safari, and
// Chromium builds with the built-in HLS player); an encrypted playlist's key is fetched by
// the player itself from the playlist's key URL (AuthUrl), which must answer CORS
// (Access-Control-Allow-Origin), as for any web HLS player. Elsewhere: the playlist link.
function renderPlayer(task) {
  const box = document.getElementById("player-box");
  const file = video(task);
  const url = file && task.Status === "finished" ? file.FileURL : null;
  if (url === page.playing) return;  // keep the element: replacing it restarts playback
  page.playing = url;
  if (!url) { box.replaceChildren(); return; }
  const hls = /\.m3u8(\?|$)/.test(url);
  const player = el("video", { id: "player", controls: "", preload: "metadata", src: url });
  player.muted = true;  // lets play() start without a click (autoplay policy)
  // CORS mode for the farm's own files: a cross-origin key URL can then be read.
  if (new URL(url, location.href).origin === location.origin) player.crossOrigin = "anonymous";
  if (hls && !player.canPlayType("application/vnd.apple.mpegurl")) {
    box.replaceChildren(el("p", { class: "note",
      text: "This browser cannot play HLS natively, and the page loads no external player: " }),
      el("a", { href: url, text: "the playlist" }));
    return;
  }
  const note = hls ? "HLS; an encrypted playlist's key comes from its key URL (AuthUrl)" : "MP4";
  box.replaceChildren(player, el("p", { class: "note", text: note }));
}

function renderCallbacks(task) {
  const attempts = (task.Callback || {}).Attempts || [];
  const body = document.querySelector("#callbacks tbody");
  body.replaceChildren(...(attempts.length ? attempts.map((a) => el("tr", {},
      el("td", { text: String(a.Attempt) }), el("td", { text: clock(a.Time) }),
      el("td", { text: a.Ok ? "ok" : `failed: ${a.Error || ""}` })))
    : [el("tr", {}, el("td", { class: "empty", colspan: "3", text: "none" }))]));
}

// ---- the loop ----------------------------------------------------------------------

function showError(error) {
  const box = document.getElementById("error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
  if (error && error.code === "AuthFailure") document.getElementById("signin").hidden = false;
}

async function tick() {
  const live = document.getElementById("live");
  try {
    const answer = await api("GET", `/v1/tasks?limit=${LIMIT}`);
    renderTables(answer.Tasks || []);
    await refreshDetail();
    showError(null);
    live.className = "live ok";
  } catch (error) {
    showError(error);
    live.className = "live down";
  }
  setTimeout(tick, POLL_MS);
}

document.getElementById("flower").href = FLOWER;
document.getElementById("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  page.creds = { key: document.getElementById("key").value,
                 secret: document.getElementById("secret").value };
  sessionStorage.setItem("capstan-creds", JSON.stringify(page.creds));
  document.getElementById("signin").hidden = true;
});
tick();
