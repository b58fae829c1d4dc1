/**
 * The web window, as one self-contained page (no CDN, no build step; a module, so `deno compile`
 * embeds it). It speaks the `--json` contract over one WebSocket: events in, commands out.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ChatNet</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --bg: #f7f7f8; --fg: #1d1d1f; --muted: #6b6b73; --panel: #fff;
    --line: #dcdce0; --accent: #0a66d8; --mine: #e3eefc; --ok: #1a7f37; --warn: #9a6700; --bad: #c62828; }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #16171a; --fg: #e8e8ea; --muted: #9a9aa3; --panel: #1f2024; --line: #34353b;
      --accent: #5ea3ff; --mine: #1e3350; --ok: #4ac26b; --warn: #d4a72c; --bad: #ff6b6b; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg);
    display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; background: var(--panel);
    border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 1.05em; margin: 0; }
  .status { color: var(--muted); font-size: .9em; }
  .online { color: var(--ok); } .offline { color: var(--warn); }
  .plain { color: var(--bad); }
  main { flex: 1; overflow-y: auto; padding: 1em; }
  ol#messages { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .5em; }
  li.msg { align-self: flex-start; max-width: 75%; padding: .45em .7em; border-radius: 10px; background: var(--panel);
    border: 1px solid var(--line); white-space: pre-wrap; overflow-wrap: anywhere; }
  li.msg.mine { align-self: flex-end; background: var(--mine); }
  li.msg.old { opacity: .7; }
  li.note { align-self: center; max-width: 100%; color: var(--muted); font-size: .85em; overflow-wrap: anywhere; }
  li.note.error { color: var(--bad); }
  li.note.old { opacity: .7; }
  li.note.offer { color: inherit; font-size: .95em; }
  li.note.offer button { margin-left: .4em; padding: .25em .8em; }
  .meta { display: block; font-size: .75em; color: var(--muted); }
  .tick { color: var(--ok); font-weight: bold; }
  #transfers { padding: 0 1em; }
  .transfer { display: grid; grid-template-columns: 1fr auto; gap: .2em .8em; padding: .4em 0;
    border-top: 1px solid var(--line); font-size: .9em; }
  .transfer > span { min-width: 0; overflow-wrap: anywhere; }
  .transfer progress { grid-column: 1 / -1; width: 100%; height: .7em; }
  form { display: flex; gap: .5em; padding: .7em 1em; background: var(--panel);
    border-top: 1px solid var(--line); align-items: flex-end; }
  textarea { flex: 1; min-width: 0; resize: none; font: inherit; padding: .5em; border-radius: 8px;
    border: 1px solid var(--line); background: var(--bg); color: var(--fg); min-height: 2.6em; max-height: 9em; }
  button svg { vertical-align: -3px; }
  button, .button { font: inherit; padding: .5em .9em; border-radius: 8px; border: 1px solid var(--line);
    background: var(--bg); color: var(--fg); cursor: pointer; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  main.dragging { outline: 3px dashed var(--accent); outline-offset: -8px; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  a { color: var(--accent); }
  #banner { margin: 0; padding: .7em 1em; background: var(--bad); color: #fff; font-weight: 500; overflow-wrap: anywhere; }
  #banner strong { display: block; }
</style>
</head>
<body>
<header>
  <h1>ChatNet</h1>
  <span id="peer" class="status offline" role="status" aria-live="polite">connecting…</span>
  <span id="security" class="status"></span>
</header>
<div id="banner" role="alert" hidden><strong>The peer is unreachable</strong><span id="bannerText"></span></div>
<main id="main" aria-label="Conversation; drop files or folders here to send them">
  <ol id="messages" aria-live="polite" aria-relevant="additions"></ol>
</main>
<section id="transfers" aria-label="File transfers" aria-live="polite"></section>
<form id="composer">
  <label for="text" class="sr-only">Message</label>
  <textarea id="text" rows="1" placeholder="Message" title="Enter sends, Shift+Enter for a new line" autofocus></textarea>
  <input id="files" type="file" multiple hidden>
  <input id="folder" type="file" webkitdirectory hidden>
  <button type="button" id="attach" aria-label="Attach files" title="Attach files"><svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"/></svg></button>
  <button type="button" id="attachFolder" aria-label="Attach a folder" title="Attach a folder"><svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"><path d="M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z"/></svg></button>
  <button type="submit" id="send" class="primary">Send</button>
</form>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("t") || "";
const $ = (id) => document.getElementById(id);
const list = $("messages"), main = $("main");
const own = new Map();
const transfers = new Map();
let socket;

function esc(s) { const d = document.createElement("div"); d.textContent = s; return d.innerHTML; }
function time(iso) { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }); }
function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function scroll() { main.scrollTop = main.scrollHeight; }

function addMessage(o) {
  const li = document.createElement("li");
  li.className = "msg" + (o.mine ? " mine" : "") + (o.old ? " old" : "");
  const who = o.mine ? "you" : o.name;
  const mark = o.mine ? (o.delivered ? '<span class="tick" aria-label="delivered">✓</span>'
    : '<span class="tick" aria-label="' + (o.queued ? "queued" : "sending") + '">' + (o.queued ? "… queued" : "…") + "</span>") : "";
  li.innerHTML = '<span class="meta">' + esc(who) + " · " + time(o.at) + " · #" + o.id + " " + mark + "</span>" + esc(o.text);
  li.dataset.id = o.id;
  list.append(li);
  if (o.mine && !o.delivered) own.set(o.id, li);
  scroll();
}
function note(text, error) {
  const li = document.createElement("li");
  li.className = "note" + (error ? " error" : "");
  li.textContent = text;
  list.append(li);
  scroll();
}
function transfer(e) {
  let t = transfers.get(e.id);
  if (!t) {
    t = document.createElement("div");
    t.className = "transfer";
    t.innerHTML = '<span class="name"></span><span class="info"></span><progress max="1" value="0"></progress>';
    $("transfers").append(t);
    transfers.set(e.id, t);
  }
  const arrow = e.direction === "send" ? "↑ " : "↓ ";
  t.querySelector(".name").textContent = arrow + e.name;
  const bar = t.querySelector("progress");
  bar.setAttribute("aria-label", (e.direction === "send" ? "Sending " : "Receiving ") + e.name);
  return t;
}
/** "✓ Sent …" or "✓ Received <link>" in the conversation, new or from the history (old). */
function fileNote(e, received, old) {
  const li = document.createElement("li");
  li.className = "note file" + (old ? " old" : "");
  if (old) li.append("[" + time(e.at) + "] ");
  if (received) {
    const a = document.createElement("a");
    a.href = "/file?t=" + encodeURIComponent(token) + "&path=" + encodeURIComponent(e.path);
    a.textContent = e.name;
    li.append("✓ Received ", a, " (" + bytes(e.size) + ", SHA-256 " + e.sha256.slice(0, 16) + "…)");
  } else li.append("✓ Sent " + e.name + " (" + bytes(e.size) + "); the peer verified its SHA-256");
  list.append(li);
  scroll();
}
const offers = new Map();
/** An offer waiting for an answer (--accept ask): its line, with Accept and Decline buttons. */
function offer(e) {
  if (offers.has(e.id)) return;
  const li = document.createElement("li");
  li.className = "note offer";
  li.dataset.offer = e.id;
  const what = e.name + " (" + (e.files === 1 ? "" : e.files + " files, ") + bytes(e.size) + ")";
  const text = document.createElement("span");
  text.textContent = (e.sender || "The peer") + " offers " + what + ". ";
  const yes = document.createElement("button");
  yes.type = "button"; yes.className = "primary"; yes.textContent = "Accept";
  yes.addEventListener("click", () => command({ type: "accept", id: e.id }));
  const no = document.createElement("button");
  no.type = "button"; no.textContent = "Decline";
  no.addEventListener("click", () => command({ type: "decline", id: e.id }));
  li.append(text, yes, " ", no);
  list.append(li);
  offers.set(e.id, { li, what, sender: e.sender || "the peer" });
  scroll();
}
function offerClosed(e) {
  const o = offers.get(e.id);
  if (!o) return;
  offers.delete(e.id);
  o.li.textContent = e.outcome === "accepted" ? "✓ Accepted " + o.what + " from " + o.sender
    : e.outcome === "declined" ? "✗ Declined " + o.what + " from " + o.sender + "; they are told"
    : o.sender + " withdrew " + o.what;
}
/** A finished transfer keeps its full bar, marked done. */
function done(e, direction) {
  const t = transfer({ ...e, direction });
  t.querySelector("progress").value = 1;
  t.querySelector(".info").textContent = "done · " + bytes(e.size);
  t.classList.add("finished");
  transfers.delete(e.id);
}

function onEvent(e) {
  switch (e.type) {
    case "ready":
      $("security").innerHTML = e.encrypted ? "encrypted" : '<span class="plain">⚠ not encrypted (no passphrase)</span>';
      document.title = "ChatNet · " + e.name + " ↔ " + e.peer;
      break;
    case "peer": {
      $("banner").hidden = true;
      const p = $("peer");
      p.className = "status " + e.state;
      p.textContent = (e.state === "online" ? "● peer online" : "○ peer offline") + (e.restarted ? " (restarted)" : "");
      if (e.fingerprint) $("security").textContent = "encrypted · fingerprint " + e.fingerprint;
      break;
    }
    case "sent": addMessage({ mine: true, id: e.id, text: e.text, at: new Date().toISOString(), queued: e.queued }); break;
    case "delivered": {
      const li = own.get(e.id);
      if (li) { li.querySelector(".tick").outerHTML = '<span class="tick" aria-label="delivered">✓</span>'; own.delete(e.id); }
      break;
    }
    case "message": addMessage({ mine: false, id: e.id, name: e.name, text: e.text, at: e.at }); break;
    case "history": addMessage({ mine: e.dir === "out", old: true, id: e.id, name: e.name, text: e.text, at: e.at, delivered: e.delivered !== false }); break;
    case "error":
      if (e.code === "unreachable") {
        $("bannerText").textContent = e.message;
        $("banner").hidden = false;
        $("peer").className = "status offline";
        $("peer").textContent = "○ peer unreachable";
      }
      note(e.message, e.code !== "transfer_interrupted");
      break;
    case "notice": note(e.message); break;
    case "moved": note("● The peer moved from " + e.from + " to " + e.to + "; chat and files follow it"); break;
    case "file_start": transfer(e); break;
    case "progress": {
      const t = transfer(e);
      t.querySelector("progress").value = e.size ? e.bytes / e.size : 1;
      t.querySelector(".info").textContent = bytes(e.bytes) + " of " + bytes(e.size) + " · " + bytes(e.speed) + "/s" +
        (e.eta != null ? " · " + Math.ceil(e.eta) + " s left" : "");
      break;
    }
    case "file_sent": done(e, "send"); fileNote(e, false, false); break;
    case "file_received": done(e, "receive"); fileNote(e, true, false); break;
    case "history_file": fileNote(e, e.dir === "in", true); break;
    case "offer": offer(e); break;
    case "offer_closed": offerClosed(e); break;
    case "offer_waiting": note("⋯ The peer is asked whether to accept " + e.name + " (" + (e.files === 1 ? "" : e.files + " files, ") + bytes(e.size) + ")"); break;
  }
}

function connect() {
  socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?t=" + encodeURIComponent(token));
  socket.onmessage = (m) => onEvent(JSON.parse(m.data));
  socket.onclose = () => {
    $("peer").className = "status offline";
    $("peer").textContent = "disconnected from chatnet; retrying…";
    setTimeout(connect, 1000);
  };
  socket.onopen = () => { list.innerHTML = ""; own.clear(); offers.clear(); $("banner").hidden = true; };
}
function command(c) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(c)); }

function send() {
  const text = $("text").value;
  if (!text.trim()) return;
  command({ type: "send", text });
  $("text").value = "";
  fitPlaceholder();
  $("text").focus();
}
/** The placeholder with the keys where it fits on the box's one line, else just "Message" (at
 * 400 px, a phone, the long one wrapped inside the one-line box). */
function fitPlaceholder() {
  const t = $("text");
  if (t.value) return;
  t.placeholder = "Message (Enter sends, Shift+Enter for a new line)";
  if (t.scrollHeight > t.clientHeight + 1) t.placeholder = "Message";
}
addEventListener("resize", fitPlaceholder);
$("text").addEventListener("input", fitPlaceholder);
fitPlaceholder();
$("composer").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
$("text").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
});

function batchId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
}
/** Uploads files (each with its path inside the selection) and offers each top-level entry. */
async function upload(entries) {
  const batch = batchId();
  const tops = new Set();
  for (const { file, path } of entries) {
    const r = await fetch("/upload?t=" + encodeURIComponent(token) + "&batch=" + batch + "&name=" + encodeURIComponent(path), { method: "POST", body: file });
    if (!r.ok) { note("Cannot upload " + path + ": " + (await r.text()).trim(), true); continue; }
    tops.add((await r.json()).path);
  }
  for (const path of tops) command({ type: "file", path });
}
$("attach").onclick = () => $("files").click();
$("attachFolder").onclick = () => $("folder").click();
for (const id of ["files", "folder"]) {
  $(id).addEventListener("change", (ev) => {
    const files = Array.from(ev.target.files);
    upload(files.map((f) => ({ file: f, path: f.webkitRelativePath || f.name })));
    ev.target.value = "";
  });
}
async function walk(entry, prefix, out) {
  if (entry.isFile) {
    out.push({ file: await new Promise((ok, bad) => entry.file(ok, bad)), path: prefix + entry.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
      if (!batch.length) break;
      for (const e of batch) await walk(e, prefix + entry.name + "/", out);
    }
  }
}
main.addEventListener("dragover", (ev) => { ev.preventDefault(); main.classList.add("dragging"); });
main.addEventListener("dragleave", () => main.classList.remove("dragging"));
main.addEventListener("drop", async (ev) => {
  ev.preventDefault();
  main.classList.remove("dragging");
  const out = [];
  for (const item of Array.from(ev.dataTransfer.items)) {
    if (item.kind !== "file") continue;
    const entry = item.webkitGetAsEntry && item.webkitGetAsEntry();
    if (entry) await walk(entry, "", out);
    else {
      const file = item.getAsFile();
      if (file) out.push({ file, path: file.name });
    }
  }
  upload(out);
});
connect();
</script>
</body>
</html>
`;
