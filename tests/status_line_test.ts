/** The status lines of pipe and --send mode (stderr): one line each, whatever a file name holds,
 * and a peer that restarts is said once, not as a second "online". */
import assert from "node:assert/strict";
import { peerStatus, statusLine } from "../lib/ui/format.ts";

Deno.test("a status line shows a name's newline and escape sequences instead of obeying them", () => {
  assert.equal(
    statusLine("received evil\n\x1b]0;pwned\x07.txt → /tmp/evil"),
    "chatnet: received evil^J^[]0;pwned^G.txt → /tmp/evil\n",
  );
});

Deno.test("peer status: a change is said, a repeat only when the peer restarted", () => {
  assert.equal(peerStatus({ state: "online" }, undefined), "peer online");
  assert.equal(peerStatus({ state: "online" }, "online"), undefined);
  assert.equal(peerStatus({ state: "online", restarted: true }, "online"), "peer restarted");
  assert.equal(
    peerStatus({ state: "online", restarted: true }, "offline"),
    "peer online (it restarted)",
  );
  assert.equal(peerStatus({ state: "offline" }, "online"), "peer offline");
});

Deno.test("a right-to-left override in a name is named, not obeyed", () => {
  assert.equal(
    statusLine("received invoice\u202Etxt.exe"),
    "chatnet: received invoice<U+202E>txt.exe\n",
  );
  assert.equal(statusLine("a\u2066b\u2069c"), "chatnet: a<U+2066>b<U+2069>c\n");
});
