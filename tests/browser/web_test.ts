/** The web window end to end: a real browser (Debian's chromium, driven by playwright-core) on a
 * chatnet started with --web, talking through a lossy --sim link to a second chatnet. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { ChatProc, type Json, jsonPeer } from "../proc.ts";
import { freePorts } from "../../lib/demo.ts";

const CHROMIUM = "/usr/bin/chromium";
const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 51);
const reason = await Deno.stat(CHROMIUM).then(
  () => undefined,
  () => `${CHROMIUM} is missing (apt-get install chromium)`,
);
if (reason) console.log(`Skipping the web window tests: ${reason}`);

function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Closes the browser, stops the peers (those started) and removes the test's folder. */
async function stopAll(
  { browser, procs, root }: { browser: Browser; procs: (ChatProc | undefined)[]; root: string },
): Promise<void> {
  await browser.close();
  for (const p of procs) {
    p?.kill();
    await p?.exit();
  }
  await Deno.remove(root, { recursive: true });
}

Deno.test({
  name:
    "the web window sends, ticks, receives, attaches a file and refuses requests without the token",
  ignore: reason !== undefined,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "chatnet-web-" });
    const [pa, pb] = freePorts(2);
    const sim = (i: number) => `loss=10%,dup=5%,delay=5ms,jitter=3ms,seed=${SEED + i}`;
    // Alice runs headless with --web (stdin is a pipe and there is no --json).
    const state = join(root, "state");
    const a = new ChatProc([
      ...["-p", String(pa), "--peer", `127.0.0.1:${pb}`, "--name", "alice", "--web"],
      ...["--sim", sim(0), "--downloads", join(root, "a"), "--state-dir", state],
    ], { env: { CHATNET_SECRET: "web test" } });
    const b = jsonPeer({
      name: "bob",
      port: pb,
      peer: pa,
      args: ["--sim", sim(1), "--downloads", join(root, "b")],
      secret: "web test",
    });
    await Deno.mkdir(join(root, "b"));
    const browser = await launchChromium();
    try {
      const url = await a.webUrl();
      const page = await browser.newPage();
      await page.goto(url);
      await page.locator("#peer", { hasText: "peer online" }).waitFor();
      // The session's fingerprint, the same bob sees.
      await b.until(() => b.of("peer").some((e: Json) => e.fingerprint), "bob's fingerprint");
      const fingerprint = b.of("peer").find((e: Json) => e.fingerprint).fingerprint;
      await page.locator("#security", { hasText: `encrypted · fingerprint ${fingerprint}` })
        .waitFor();
      // 2. Type and send; bob gets it.
      await page.fill("#text", "hello from the browser");
      await page.press("#text", "Enter");
      await b.until(() => b.of("message").length === 1, "the message at bob");
      assert.equal(b.of("message")[0].text, "hello from the browser");
      assert.equal(b.of("message")[0].name, "alice");
      // 3. The delivered tick.
      await page.locator('li.msg.mine .tick[aria-label="delivered"]').waitFor();
      assert.match(await page.locator("li.msg.mine .meta").innerText(), /you · .* · #1 ✓/);
      // 4. A reply shows up.
      await b.command({ type: "send", text: "hello from the terminal" });
      await page.locator("li.msg:not(.mine)", { hasText: "hello from the terminal" }).waitFor();
      // The Send button works as well as Enter.
      await page.fill("#text", "second, by button");
      await page.click("#send");
      await b.until(() => b.of("message").length === 2, "the second message at bob");
      // 5. Attach a file; the bar finishes on the page and bob has the same bytes.
      const file = join(root, "report.bin");
      const data = crypto.getRandomValues(new Uint8Array(60_000));
      await Deno.writeFile(file, data);
      await page.setInputFiles("#files", file);
      await b.until(() => b.of("file_received").length === 1, "the file at bob");
      const got: Json = b.of("file_received")[0];
      assert.equal(got.sha256, createHash("sha256").update(data).digest("hex"));
      assert.deepEqual(await Deno.readFile(got.path), data);
      await page.locator(".transfer.finished", { hasText: "report.bin" }).waitFor();
      assert.equal(await page.locator(".transfer.finished progress").evaluate((p) => p.value), 1);
      await page.locator("li.note", { hasText: "Sent report.bin" }).waitFor();
      const uploads = () => Array.from(Deno.readDirSync(join(state, "uploads")));
      await a.until(() => uploads().length === 0, "the upload removed once the peer verified it");
      // Dropping a file on the conversation sends it too.
      // (A string, since this file is type-checked without the DOM library.)
      await page.evaluate(`{
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
        document.getElementById("main").dispatchEvent(
          new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      }`);
      await b.until(() => b.of("file_received").length === 2, "the dropped file at bob");
      assert.equal(await Deno.readTextFile(b.of("file_received")[1].path), "dropped bytes");
      // A file bob sends arrives with a link.
      const back = join(root, "notes.txt");
      await Deno.writeTextFile(back, "from bob");
      await b.command({ type: "file", path: back });
      const link = page.locator("li.note a", { hasText: "notes.txt" });
      await link.waitFor();
      const href = await link.getAttribute("href");
      const served = await fetch(new URL(href!, url));
      assert.equal(await served.text(), "from bob");
      // A page loaded now (a reload) shows the finished transfers from the history, with the link.
      const reloaded = await browser.newPage();
      await reloaded.goto(url);
      await reloaded.locator("li.note.file.old a", { hasText: "notes.txt" }).waitFor();
      const notes = await reloaded.locator("li.note.file.old").allInnerTexts();
      const fromBob = createHash("sha256").update("from bob").digest("hex").slice(0, 16);
      assert.deepEqual(notes.map((t) => t.replace(/^\[\d\d:\d\d\] /, "")), [
        "✓ Sent report.bin (58.6 KiB); the peer verified its SHA-256",
        "✓ Sent dropped.txt (13 B); the peer verified its SHA-256",
        `✓ Received notes.txt (8 B, SHA-256 ${fromBob}…)`,
      ]);
      assert.equal(await reloaded.locator("li.note.file.old a").getAttribute("href"), href);
      await reloaded.close();
      // 6. Requests without the token, from another Host or another Origin are refused.
      const bare = new URL(url);
      bare.search = "";
      assert.equal((await fetch(bare)).status, 403);
      assert.equal((await fetch(new URL("/ws?t=wrong", url))).status, 403);
      const evilOrigin = await fetch(new URL("/ws" + new URL(url).search, url), {
        headers: { origin: "http://evil.example", upgrade: "websocket" },
      });
      assert.equal(evilOrigin.status, 403);
      await evilOrigin.body?.cancel();
      // fetch() will not forge a Host header (a DNS-rebinding page's request carries its own).
      assert.equal(await rawStatus(url, "evil.example"), 421);
      const outside = await fetch(
        new URL(`/file${new URL(url).search}&path=${encodeURIComponent("/etc/passwd")}`, url),
      );
      assert.equal(outside.status, 403);
      await outside.body?.cancel();
      // 7. A screenshot for the README.
      const shot = Deno.env.get("CHATNET_SCREENSHOT") ?? join(root, "web.png");
      await page.screenshot({ path: shot });
      assert.ok((await Deno.stat(shot)).size > 1000);
    } finally {
      await stopAll({ browser, procs: [a, b], root });
    }
  },
});

/** The status code of a GET sent by hand with the given Host header. */
async function rawStatus(url: string, host: string): Promise<number> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  const request = `GET /${u.search} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  await conn.write(new TextEncoder().encode(request));
  const buf = new Uint8Array(256);
  const n = (await conn.read(buf)) ?? 0;
  conn.close();
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, n)))?.[1]);
}

Deno.test({
  name:
    "the web window shows a banner when nothing arrives from the peer, and drops it once the peer is there",
  ignore: reason !== undefined,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "chatnet-web-unreachable-" });
    const [pa, pb] = freePorts(2);
    const a = new ChatProc([
      ...["-p", String(pa), "--peer", `127.0.0.1:${pb}`, "--name", "alice", "--web"],
      ...["--downloads", join(root, "a"), "--state-dir", join(root, "state")],
    ]);
    const browser = await launchChromium();
    let b: ChatProc | undefined;
    try {
      const url = await a.webUrl();
      const page = await browser.newPage();
      await page.goto(url);
      const banner = page.locator("#banner");
      assert.equal(await banner.isVisible(), false);
      await banner.waitFor({ state: "visible", timeout: 15_000 });
      assert.match(
        await banner.innerText(),
        /^The peer is unreachable\nNothing has arrived from 127\.0\.0\.1:\d+ in 10 s: likely no route/,
      );
      assert.equal(await page.locator("#peer").innerText(), "○ peer unreachable");
      // A page opened later shows it too.
      const later = await browser.newPage();
      await later.goto(url);
      await later.locator("#banner").waitFor({ state: "visible" });
      b = jsonPeer({ name: "bob", port: pb, peer: pa, args: ["--downloads", join(root, "b")] });
      await page.locator("#peer", { hasText: "peer online" }).waitFor();
      await banner.waitFor({ state: "hidden" });
      await later.locator("#banner").waitFor({ state: "hidden" });
    } finally {
      await stopAll({ browser, procs: [a, b], root });
    }
  },
});

Deno.test({
  name:
    "a reloaded web window still shows our offer the peer is asked about, and loads with no console error",
  ignore: reason !== undefined,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "chatnet-web-waiting-" });
    const [pa, pb] = freePorts(2);
    const a = new ChatProc([
      ...["-p", String(pa), "--peer", `127.0.0.1:${pb}`, "--name", "alice", "--web"],
      ...["--downloads", join(root, "a"), "--state-dir", join(root, "state")],
    ]);
    await Deno.mkdir(join(root, "b"));
    const b = jsonPeer({
      name: "bob",
      port: pb,
      peer: pa,
      args: ["--downloads", join(root, "b"), "--accept", "ask"],
    });
    const browser = await launchChromium();
    try {
      const url = await a.webUrl();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(url);
      await page.locator("#peer", { hasText: "peer online" }).waitFor();
      const file = join(root, "note.txt");
      await Deno.writeTextFile(file, "a note\n");
      await page.setInputFiles("#files", file);
      const waiting = "⋯ The peer is asked whether to accept note.txt (7 B)";
      await page.locator("li.note", { hasText: waiting }).waitFor();
      const reloaded = await browser.newPage();
      reloaded.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await reloaded.goto(url);
      await reloaded.locator("li.note", { hasText: waiting }).waitFor();
      assert.deepEqual(errors, []);
      // Once bob answers, a page opened later no longer shows it waiting.
      await b.until(() => b.of("offer").length === 1, "bob's offer");
      await b.command({ type: "accept", id: b.of("offer")[0].id });
      await b.until(() => b.of("file_received").length === 1, "the file at bob");
      const later = await browser.newPage();
      await later.goto(url);
      await later.locator("#peer", { hasText: "peer online" }).waitFor();
      assert.equal(await later.locator("li.note", { hasText: waiting }).count(), 0);
    } finally {
      await stopAll({ browser, procs: [a, b], root });
    }
  },
});

/** Elements of the page that stick out of the window or out of their own box (text cut off), as
 * "tag#id.class: why" lines; evaluated in the page. */
const CLIPPED = `(() => {
  const out = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (e.className && typeof e.className === "string" ? "." + e.className.trim().replace(/ +/g, ".") : "");
  if (document.documentElement.scrollWidth > innerWidth) out.push("the page scrolls sideways");
  for (const e of document.body.querySelectorAll("*")) {
    if (e.closest(".sr-only, [hidden], script, style, svg")) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > innerWidth + 0.5) out.push(name(e) + ": outside the window");
    const cs = getComputedStyle(e);
    if (e.tagName !== "MAIN" && cs.display !== "inline" && e.scrollWidth > e.clientWidth + 1) {
      out.push(name(e) + ": text wider than its box");
    }
  }
  const t = document.getElementById("text");
  if (t.scrollHeight > t.clientHeight + 1) out.push("textarea#text: its content is taller than the box");
  return out;
})()`;

Deno.test({
  name:
    "at 400 px wide (a phone) nothing in the web window is clipped: placeholder, messages, files",
  ignore: reason !== undefined,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "chatnet-web-narrow-" });
    const [pa, pb] = freePorts(2);
    const a = new ChatProc([
      ...["-p", String(pa), "--peer", `127.0.0.1:${pb}`, "--name", "alice", "--web"],
      ...["--downloads", join(root, "a"), "--state-dir", join(root, "state")],
    ], { env: { CHATNET_SECRET: "narrow test" } });
    const b = jsonPeer({
      name: "bob-with-a-rather-long-name",
      port: pb,
      peer: pa,
      args: ["--downloads", join(root, "b")],
      secret: "narrow test",
    });
    const browser = await launchChromium();
    try {
      const url = await a.webUrl();
      const page = await browser.newPage({ viewport: { width: 400, height: 700 } });
      await page.goto(url);
      await page.locator("#security", { hasText: "fingerprint" }).waitFor();
      // The box is one line: the placeholder drops the keys rather than wrap.
      assert.equal(await page.locator("#text").getAttribute("placeholder"), "Message");
      assert.deepEqual(await page.evaluate(CLIPPED), []);
      // Long words, a long file name and its link, a transfer row, our own message.
      await b.command({ type: "send", text: "see " + "https://example.com/" + "x".repeat(120) });
      const long = join(
        root,
        "a-very-long-file-name-without-any-spaces-" + "y".repeat(60) + ".bin",
      );
      await Deno.writeFile(long, new Uint8Array(70_000).fill(7));
      await b.command({ type: "file", path: long });
      await page.locator("li.note a", { hasText: "a-very-long-file-name" }).waitFor();
      await page.fill("#text", "a reply from the phone");
      await page.press("#text", "Enter");
      await page.locator('li.msg.mine .tick[aria-label="delivered"]').waitFor();
      assert.deepEqual(await page.evaluate(CLIPPED), []);
      // Wide, it has room for the keys; narrow again, it drops them.
      await page.setViewportSize({ width: 900, height: 700 });
      // Attribute selectors, not waitForFunction: a string predicate that is not true at once is
      // polled with eval, which the page's Content-Security-Policy refuses.
      await page.locator('#text[placeholder*="Enter"]').waitFor({ state: "attached" });
      assert.equal(
        await page.locator("#text").getAttribute("placeholder"),
        "Message (Enter sends, Shift+Enter for a new line)",
      );
      await page.setViewportSize({ width: 400, height: 700 });
      await page.locator('#text[placeholder="Message"]').waitFor({ state: "attached" });
      assert.deepEqual(await page.evaluate(CLIPPED), []);
    } finally {
      await stopAll({ browser, procs: [a, b], root });
    }
  },
});

Deno.test({
  name:
    "with --accept ask the web window shows an offer with Accept and Decline buttons, also to a page opened later",
  ignore: reason !== undefined,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "chatnet-web-consent-" });
    const [pa, pb] = freePorts(2);
    const a = new ChatProc([
      ...["-p", String(pa), "--peer", `127.0.0.1:${pb}`, "--name", "alice", "--web"],
      ...["--accept", "ask", "--downloads", join(root, "a"), "--state-dir", join(root, "state")],
    ]);
    const b = jsonPeer({ name: "bob", port: pb, peer: pa, args: ["--downloads", join(root, "b")] });
    const browser = await launchChromium();
    try {
      const url = await a.webUrl();
      const page = await browser.newPage();
      await page.goto(url);
      await page.locator("#peer", { hasText: "peer online" }).waitFor();
      const bytes = new Uint8Array(70_000).map((_, i) => (i * 31 + SEED) & 0xff);
      await Deno.writeFile(join(root, "photo.jpg"), bytes);
      await b.command({ type: "file", path: join(root, "photo.jpg") });
      const offer = page.locator("li.offer", { hasText: "photo.jpg" });
      await offer.waitFor();
      assert.equal(await offer.innerText(), "bob offers photo.jpg (68.4 KiB). Accept Decline");
      // A page opened while it waits shows it too, with its buttons.
      const later = await browser.newPage();
      await later.goto(url);
      await later.locator("li.offer button", { hasText: "Accept" }).waitFor();
      await offer.locator("button", { hasText: "Accept" }).click();
      await page.locator("li.offer", { hasText: "✓ Accepted photo.jpg (68.4 KiB) from bob" })
        .waitFor();
      await later.locator("li.offer", { hasText: "✓ Accepted" }).waitFor();
      await b.until(() => b.of("file_sent").length === 1, "the file's confirmation");
      const got = await Deno.readFile(join(root, "a", "photo.jpg"));
      assert.equal(
        createHash("sha256").update(got).digest("hex"),
        createHash("sha256").update(bytes).digest("hex"),
      );
      // A second one, declined: the sender hears who declined.
      await b.command({ type: "file", path: join(root, "photo.jpg") });
      await page.locator("li.offer", { hasText: "Decline" }).locator("button", {
        hasText: "Decline",
      }).click();
      await b.until(() => b.of("error").some((e: Json) => e.code === "declined"), "the decline");
      assert.equal(
        b.of("error").find((e: Json) => e.code === "declined").message,
        "Cannot send photo.jpg: declined by alice",
      );
      await page.locator("li.offer", { hasText: "✗ Declined photo.jpg" }).waitFor();
    } finally {
      await stopAll({ browser, procs: [a, b], root });
    }
  },
});
