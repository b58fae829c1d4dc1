/** Passphrase sessions in virtual time, and the pieces under them: CPace, keys, AEAD, replay. */
import assert from "node:assert/strict";
import { SimNet } from "./sim.ts";
import { containsBytes, MAIN, printedWithoutPermissions, tempStateHome } from "./proc.ts";
import { PERMISSIONS as BINARY_PERMISSIONS } from "../scripts/build.ts";
import { freePorts } from "../lib/demo.ts";
import { NO_IMPAIRMENT } from "../lib/net/impair.ts";
import { deriveKeys } from "../lib/crypto/keys.ts";
import {
  type Aead,
  nodeAead,
  open,
  ReplayWindow,
  sealInto,
  TAG_BYTES,
} from "../lib/crypto/aead.ts";
import { ALLOW_FFI, loadOpenSslAead } from "../lib/native/openssl_aead.ts";
import { isSealed, parseSealed } from "../lib/protocol/codec.ts";
import { seededRng } from "../lib/rng.ts";
import { RECORD_BYTES, RecordOpener, RecordSealer } from "../lib/crypto/records.ts";
import { sealedReader, sealedWriter } from "../lib/net/file_stream.ts";
import { concat, fromHex, toHex } from "../lib/bytes.ts";

/** Ciphertext and tag in one new buffer, as a sealed datagram carries them. */
function seal(key: Uint8Array, counter: bigint, aad: Uint8Array, plaintext: Uint8Array) {
  const out = new Uint8Array(plaintext.length + TAG_BYTES);
  sealInto(key, { counter, aad, plaintext, out });
  return out;
}

const SEED = Number(Deno.env.get("CHATNET_TEST_SEED") ?? 31);
const random = (seed: number) => {
  const r = seededRng(seed);
  return Uint8Array.from({ length: 64 }, () => Math.floor(r() * 256));
};

Deno.test("the key schedule separates directions, and each handshake's ISK gives new keys", () => {
  // Handshakes give each side the same ISK (tests/handshake_test.ts); random ones stand in here.
  const isk1 = random(4);
  const ka = deriveKeys(isk1, 0xa1, 0xb1);
  const kb = deriveKeys(isk1, 0xb1, 0xa1);
  assert.deepEqual(ka.send, kb.recv);
  assert.deepEqual(ka.recv, kb.send);
  assert.deepEqual(ka.fileSend, kb.fileRecv);
  assert.notDeepEqual(ka.send, ka.recv);
  assert.equal(ka.fingerprint, kb.fingerprint);
  assert.match(ka.fingerprint, /^\d{4} \d{4} \d{4}$/);
  // Another handshake, even between the same two epochs: every key is new, so the nonce counter
  // starting again at 0 never reuses a nonce under a key.
  const ka2 = deriveKeys(random(5), 0xa1, 0xb1);
  for (const k of ["send", "recv", "fileSend", "fileRecv"] as const) {
    assert.notDeepEqual(ka2[k], ka[k], k);
  }
  assert.notEqual(ka2.fingerprint, ka.fingerprint);
  // A datagram sealed under the old keys does not open under the new ones.
  const aad = new Uint8Array(24);
  const sealed = seal(ka.send, 0n, aad, new TextEncoder().encode("hi"));
  assert.deepEqual(open(kb.recv, 0n, aad, sealed), new TextEncoder().encode("hi"));
  assert.equal(open(ka2.send, 0n, aad, sealed), undefined);
  assert.equal(open(kb.recv, 1n, aad, sealed), undefined, "another nonce");
  assert.equal(open(kb.recv, 0n, new Uint8Array(24).fill(1), sealed), undefined, "another AAD");
});

Deno.test("the replay window accepts each counter once, late ones within the window, none older", () => {
  const w = new ReplayWindow();
  const take = (c: bigint) => {
    if (!w.fresh(c)) return false;
    w.mark(c);
    return true;
  };
  assert.ok(take(0n) && take(5n) && take(3n));
  assert.ok(!take(5n) && !take(3n) && !take(0n));
  assert.ok(take(10_000n));
  assert.ok(!take(5n), "far behind the newest");
  assert.ok(take(10_000n - 4000n), "late but inside the window");
  assert.ok(!take(10_000n - 4000n));
  assert.ok(take(10_001n) && !take(10_001n));
});

function secureNet(secretA: string, secretB: string, loss = 0.2) {
  const wire: Uint8Array[] = [];
  const n = new SimNet({
    impair: { ...NO_IMPAIRMENT, seed: SEED, loss, dup: 0.05, reorder: 0.1, delay: 10, jitter: 5 },
    secretA,
    secretB,
    wire: (_, d) => wire.push(d),
  });
  return { n, wire };
}

Deno.test("with one passphrase, messages cross 20% loss sealed, and no datagram holds plaintext", () => {
  const { n, wire } = secureNet("tango-42", "tango-42");
  const texts = Array.from({ length: 300 }, (_, i) => `secret message ${i}`);
  texts.forEach((t, i) => n.at(i * 3, () => n.send(i % 2 ? "b" : "a", t)));
  assert.ok(
    n.run(() => n.a.received.length + n.b.received.length === 300, 120_000),
    `seed ${SEED}`,
  );
  assert.deepEqual(n.b.received, texts.filter((_, i) => i % 2 === 0));
  assert.deepEqual(n.a.received, texts.filter((_, i) => i % 2 === 1));
  assert.equal(n.a.session.keys!.fingerprint, n.b.session.keys!.fingerprint);
  assert.ok(wire.some(isSealed));
  assert.ok(!wire.some((d) => containsBytes(d, "secret message")), "no plaintext on the wire");
  assert.ok(!wire.some((d) => containsBytes(d, "tango")), "no passphrase on the wire");
  assert.deepEqual([...n.a.authFailures, ...n.b.authFailures], []);
});

Deno.test("different passphrases: nothing is delivered and both sides say the passphrase differs", () => {
  const { n } = secureNet("tango-42", "tango-43", 0.1);
  n.send("a", "hello?");
  n.send("b", "anyone?");
  n.run(() => false, 30_000);
  assert.deepEqual(n.a.received, []);
  assert.deepEqual(n.b.received, []);
  for (const side of [n.a, n.b]) {
    assert.ok(side.authFailures.length >= 1, `seed ${SEED}`);
    assert.ok(side.authFailures.every((w) => w === "passphrase_differs"));
  }
  assert.ok(!n.a.session.online && !n.b.session.online);
});

Deno.test("a passphrase on one side only: each side says which", () => {
  const n = new SimNet({ impair: { ...NO_IMPAIRMENT, seed: SEED, delay: 5 }, secretA: "pw" });
  n.send("a", "x");
  n.send("b", "y");
  n.run(() => false, 5_000);
  assert.deepEqual([n.a.received, n.b.received], [[], []]);
  assert.deepEqual(n.a.authFailures, ["peer_unencrypted"]);
  assert.deepEqual(n.b.authFailures, ["peer_encrypted"]);
});

Deno.test("replayed, forged and plaintext datagrams are dropped and counted, never delivered", () => {
  const { n, wire } = secureNet("pw", "pw", 0);
  n.send("a", "once");
  assert.ok(n.run(() => n.b.received.length === 1, 10_000));
  // Datagrams of a session both sides have established: one sealed before the FINISH reached
  // B was never opened there, so it could not be a replay.
  const handshake = wire.splice(0);
  n.run(() => false, 1_000);
  const fromA = wire.filter((d) =>
    isSealed(d) && (parseSealed(d) as { src: number }).src === 0xaaaa0001
  );
  n.run(() => false, 100); // so that the last of them (a keepalive, perhaps) has landed too
  const before = n.b.session.stats().replayed; // the network's own duplicates count too
  for (const d of fromA) n.b.session.input(d, n.now);
  assert.equal(n.b.session.stats().replayed - before, fromA.length);
  // A flipped bit anywhere fails the tag; a HELLO from a stranger does not reset the session.
  const forged = fromA[0].slice();
  forged[forged.length - 20] ^= 1;
  forged[16 + 7] += 100; // a counter never seen, so the replay window does not catch it first
  n.b.session.input(forged, n.now);
  const hello = handshake.find((d) => !isSealed(d) && d[3] === 2)!.slice();
  new DataView(hello.buffer).setUint32(8, 0x5eed);
  n.b.session.input(hello, n.now);
  n.run(() => false, 2_000);
  const t = n.b.session.stats();
  assert.equal(t.unauthenticated, 1);
  assert.deepEqual(n.b.received, ["once"]);
  assert.equal(t.peerRestarts, 0, "the forged HELLO did not pass for a restart");
  n.send("a", "twice");
  assert.ok(n.run(() => n.b.received.length === 2, 10_000), "the session still works");
});

Deno.test("a restarted peer with the passphrase gets new keys and every unacknowledged message", () => {
  const { n } = secureNet("pw", "pw", 0.1);
  for (let i = 0; i < 100; i++) n.at(i * 5, () => n.send("a", `m${i}`));
  n.run(() => n.b.received.length >= 40, 60_000);
  const oldKey = n.a.session.keys!.send;
  n.restart("b", 0xbbbb0002);
  assert.ok(n.run(() => n.a.delivered.length === 100, 120_000), `seed ${SEED}`);
  assert.notDeepEqual(n.a.session.keys!.send, oldKey);
  assert.equal(n.b.received.at(-1), "m99");
});

/** Both implementations where OpenSSL loads here; node:crypto's alone (said once) where not. */
const OPENSSL = loadOpenSslAead(undefined);
if (typeof OPENSSL === "string") console.log(`OpenSSL's cipher is not tested here: ${OPENSSL}`);
const AEADS: Aead[] = typeof OPENSSL === "string" ? [nodeAead] : [nodeAead, OPENSSL];

for (const aead of AEADS) {
  Deno.test(`the AEAD (${aead.name}) is RFC 8439 ChaCha20-Poly1305 with the counter as the nonce's last 8 bytes`, () => {
    // RFC 8439 section 2.8.2's key, AAD and plaintext, with the nonce 00000000 4041424344454647
    // (our layout); the expected bytes come from another implementation (OpenSSL, via Python's
    // cryptography), which also gives the RFC's own tag for the RFC's nonce.
    const key = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
    const aad = fromHex("50515253c0c1c2c3c4c5c6c7");
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
        "future, sunscreen would be it.",
    );
    const expected =
      "a479cb54628946d6f4042a8e384ef4bd2fbc7330b8be55eb2d8dc18aaa51d66a8ec1f8d3619a2" +
      "58db0ac56956015b7b4937e9b8e6aa957b3dc0214d803d77660aabc913092971da8f207171ce7843608162e2e7" +
      "59d8efc25d8d0936990af63c820ba87e8a955b5c8274ef7d10f6fafd046472dbf189b668bd430aef9147e99cb6c89";
    const counter = 0x4041424344454647n;
    const sealed = new Uint8Array(plaintext.length + TAG_BYTES);
    assert.equal(aead.sealInto(key, { counter, aad, plaintext, out: sealed }), sealed.length);
    assert.equal(toHex(sealed), expected);
    const out = new Uint8Array(plaintext.length);
    assert.equal(aead.openInto(key, { counter, aad, sealed, out }), plaintext.length);
    assert.deepEqual(out, plaintext);
    assert.equal(aead.openInto(key, { counter: counter + 1n, aad, sealed, out }), undefined);
  });

  Deno.test(`the AEAD (${aead.name}) throws on too small an output buffer, and refuses a sealed text shorter than a tag`, () => {
    // A programmer's error, not a forgery (and for OpenSSL, stopped before any pointer reaches C).
    const key = new Uint8Array(32), aad = new Uint8Array(4), plaintext = new Uint8Array(100);
    assert.throws(
      () => aead.sealInto(key, { counter: 1n, aad, plaintext, out: new Uint8Array(115) }),
      RangeError,
    );
    const sealed = new Uint8Array(116);
    aead.sealInto(key, { counter: 1n, aad, plaintext, out: sealed });
    assert.throws(
      () => aead.openInto(key, { counter: 1n, aad, sealed, out: new Uint8Array(99) }),
      RangeError,
    );
    assert.equal(
      aead.openInto(key, { counter: 1n, aad, sealed: sealed.subarray(0, 15), out: plaintext }),
      undefined,
    );
  });
}

Deno.test("OpenSSL and node:crypto seal the same bytes, open each other's, and refuse any flipped bit", () => {
  if (typeof OPENSSL === "string") return console.log(`Skipped: ${OPENSSL}`);
  const rng = seededRng(SEED);
  const key = random(SEED).subarray(0, 32), aad = random(SEED + 1).subarray(0, 4);
  const lengths = [0, 1, 15, 16, 17, 63, 64, 65, 1120, 65_535, 65_537, 1 << 20];
  for (let i = 0; i < 20; i++) lengths.push(Math.floor(rng() * 200_000));
  for (const length of lengths) {
    const why = `length ${length}, seed ${SEED}`;
    const plaintext = Uint8Array.from({ length }, () => Math.floor(rng() * 256));
    const counter = BigInt(Math.floor(rng() * 2 ** 52));
    const [a, b]: Uint8Array[] = [nodeAead, OPENSSL].map((aead: Aead) => {
      const out = new Uint8Array(length + TAG_BYTES);
      aead.sealInto(key, { counter, aad, plaintext, out });
      return out;
    });
    assert.deepEqual(a, b, why);
    for (const [from, by] of [[nodeAead, OPENSSL], [OPENSSL, nodeAead]]) {
      const sealed = new Uint8Array(length + TAG_BYTES);
      from.sealInto(key, { counter, aad, plaintext, out: sealed });
      const out = new Uint8Array(length);
      assert.equal(by.openInto(key, { counter, aad, sealed, out }), length, why);
      assert.deepEqual(out, plaintext, why);
      const at = Math.floor(rng() * sealed.length);
      sealed[at] ^= 1 << Math.floor(rng() * 8);
      assert.equal(
        by.openInto(key, { counter, aad, sealed, out }),
        undefined,
        `${why}, byte ${at}`,
      );
    }
  }
});

Deno.test("CHATNET_OPENSSL=0 keeps node:crypto, and every task may load only the listed libcrypto and libc", async () => {
  assert.equal(loadOpenSslAead("0"), "CHATNET_OPENSSL=0");
  const tasks: Record<string, string> = JSON.parse(await Deno.readTextFile("deno.json")).tasks;
  for (const [name, task] of Object.entries(tasks)) {
    const ffi = task.split(" ").filter((a) => a.startsWith("--allow-ffi"));
    assert.ok(
      ffi.length === 0 || (ffi.length === 1 && ffi[0] === ALLOW_FFI),
      `task ${name}: ${ffi}`,
    );
  }
  assert.ok(tasks.chat.includes(ALLOW_FFI) && tasks["bench:files"].includes(ALLOW_FFI));
  // `deno task chat` may do what the compiled binary may (--open runs xdg-open); env is wider, for
  // INIT_CWD, the folder deno task was started in.
  for (const flag of BINARY_PERMISSIONS) {
    const name = flag.split("=")[0];
    assert.ok(tasks.chat.split(" ").some((a) => a === flag || a === name), `chat task: ${flag}`);
  }
  // Without --allow-ffi, node:crypto stays, with the reason.
  const probe = `import { loadOpenSslAead } from "${new URL(
    "../lib/native/openssl_aead.ts",
    import.meta.url,
  )}"; console.log(loadOpenSslAead(undefined));`;
  assert.equal(
    await printedWithoutPermissions(probe),
    "no libcrypto found, or --allow-ffi not given\n",
  );
});

Deno.test("sealed file records round-trip, and a flipped, dropped or swapped record fails", async () => {
  const key = new Uint8Array(32).fill(7);
  let stream: Uint8Array = new Uint8Array();
  const sink = {
    write(p: Uint8Array) {
      stream = concat([stream, p]);
      return Promise.resolve(p.length);
    },
  };
  const w = sealedWriter(sink, new RecordSealer(key));
  const parts = [new Uint8Array(1000).fill(1), new Uint8Array(70_000).fill(2), new Uint8Array(5)];
  for (const p of parts) await w.write(p);
  // The stream split at its length words: one record per write.
  const records: Uint8Array[][] = [];
  for (let o = 0; o < stream.length;) {
    const n = new DataView(stream.buffer, o, 4).getUint32(0);
    records.push([stream.subarray(o, o + 4), stream.subarray(o + 4, o + 4 + n)]);
    o += 4 + n;
  }
  assert.deepEqual(records.map(([, b]) => b.length), [1016, 70_016, 21]);
  const readAll = async (list: Uint8Array[][]) => {
    const bytes = list.flat();
    let i = 0, off = 0;
    const source = {
      read(p: Uint8Array) {
        if (i === bytes.length) return Promise.resolve(null);
        const n = Math.min(p.length, bytes[i].length - off);
        p.set(bytes[i].subarray(off, off + n));
        off += n;
        if (off === bytes[i].length) i++, off = 0;
        return Promise.resolve(n);
      },
    };
    const r = sealedReader(source, new RecordOpener(key));
    const out: number[] = [];
    const buf = new Uint8Array(4096);
    for (let n; (n = await r.read(buf)) !== null;) out.push(...buf.subarray(0, n));
    return out;
  };
  assert.deepEqual(await readAll(records), parts.flatMap((p) => [...p]));
  const flipped = records.map(([w, b]) => [w, b.slice()]);
  flipped[1][1][10] ^= 1;
  await assert.rejects(readAll(flipped), /failed authentication/);
  await assert.rejects(readAll([records[0], records[2]]), /failed authentication/);
  await assert.rejects(readAll([records[1], records[0], records[2]]), /failed authentication/);
  await assert.rejects(
    readAll([records[0], [records[1][0], records[1][1].subarray(0, 9)]]),
    /ended inside a record/,
  );
  const huge = new Uint8Array(4);
  new DataView(huge.buffer).setUint32(0, 2 ** 31);
  await assert.rejects(readAll([[huge, new Uint8Array(16)]]), /bad record length/);
  await assert.rejects(readAll([[new Uint8Array(4), new Uint8Array()]]), /bad record length 0/);
});

Deno.test("sealed records arrive whole through reads of any size", async () => {
  const SEED = 4242;
  const rng = seededRng(SEED);
  const key = new Uint8Array(32).fill(9);
  const chunks: Uint8Array[] = [];
  const sink = {
    write(p: Uint8Array) {
      chunks.push(p.slice());
      return Promise.resolve(p.length);
    },
  };
  const w = sealedWriter(sink, new RecordSealer(key));
  const sizes = [0, 1, RECORD_BYTES, RECORD_BYTES + 1, 3 * RECORD_BYTES + 7];
  for (let i = 0; i < 12; i++) sizes.push(Math.floor(rng() * 1.5 * 2 ** 20));
  const plain = sizes.map((n) => new Uint8Array(n).map(() => Math.floor(rng() * 256)));
  for (const p of plain) await w.write(p);
  const stream = concat(chunks);
  // One write per chunk, records of RECORD_BYTES at most.
  assert.equal(chunks.length, sizes.filter((n) => n > 0).length);
  let records = 0;
  for (let o = 0; o < stream.length; records++) {
    const n = new DataView(stream.buffer, o, 4).getUint32(0);
    assert.ok(n <= RECORD_BYTES + 16, `record of ${n} bytes (seed ${SEED})`);
    o += 4 + n;
  }
  assert.equal(records, sizes.reduce((a, n) => a + Math.ceil(n / RECORD_BYTES), 0));
  const readBack = async (bytes: Uint8Array) => {
    let at = 0;
    const source = {
      read(p: Uint8Array) {
        if (at === bytes.length) return Promise.resolve(null);
        const n = Math.min(p.length, bytes.length - at, 1 + Math.floor(rng() * 300_000));
        p.set(bytes.subarray(at, at += n));
        return Promise.resolve(n);
      },
    };
    const r = sealedReader(source, new RecordOpener(key));
    const out: Uint8Array[] = [];
    // Half the reads ask for sizes at a record's edges.
    const edges = [16, RECORD_BYTES - 1, RECORD_BYTES, RECORD_BYTES + 1, 2 * RECORD_BYTES - 10];
    for (let i = 0;; i++) {
      const size = i % 2 ? edges[i % edges.length] : 1 + Math.floor(rng() * 1.2 * 2 ** 20);
      const buf = new Uint8Array(size);
      const n = await r.read(buf);
      if (n === null) return concat(out);
      out.push(buf.subarray(0, n));
    }
  };
  assert.deepEqual(await readBack(stream), concat(plain), `seed ${SEED}`);
  await assert.rejects(readBack(stream.subarray(0, stream.length - 1)), /ended inside a record/);
  await assert.rejects(readBack(concat([stream, new Uint8Array(2)])), /ended inside a record/);
});

Deno.test("with the compiled binary's permissions, chatnet seals with OpenSSL where the host has it", async () => {
  const [port, peer] = freePorts(2);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...BINARY_PERMISSIONS,
      MAIN,
      "--json",
      "-p",
      String(port),
      "--peer",
      `127.0.0.1:${peer}`,
    ],
    env: { CHATNET_SECRET: "permissions", XDG_STATE_HOME: tempStateHome() },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode('{"type":"stats"}\n{"type":"quit"}\n'));
  await w.close();
  const out = await child.output();
  const stats = new TextDecoder().decode(out.stdout).split("\n").filter(Boolean)
    .map((l) => JSON.parse(l)).find((e) => e.type === "stats");
  const want = typeof OPENSSL === "string" ? "node:crypto" : OPENSSL.name;
  assert.equal(stats?.cipher, `ChaCha20-Poly1305 (${want})`, new TextDecoder().decode(out.stderr));
});
