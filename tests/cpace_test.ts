/** CPace against draft-irtf-cfrg-cpace-21's own test vectors (Appendix A and B.3), and the
 * passphrase's preparation (RFC 8265 OpaqueString). */
import assert from "node:assert/strict";
import {
  calculateGenerator,
  CPACE_DRAFT,
  deriveIsk,
  generatorString,
  lexicographicallyLarger,
  lvCat,
  oCat,
  prependLen,
  scalarFromBytes,
  scalarMult,
  scalarMultVfy,
  transcriptIr,
  transcriptOc,
} from "../lib/crypto/cpace.ts";
import { preparePassphrase } from "../lib/crypto/passphrase.ts";
import { weakPassphraseWarning } from "../lib/auth_report.ts";
import { fromHex, toHex } from "../lib/bytes.ts";

const te = new TextEncoder();
const hex = (s: string) => fromHex(s.replace(/\s+/g, ""));

// Appendix B.3 (CPace-RISTR255-SHA512).
const PRS = te.encode("Password");
const CI = hex("0b415f696e69746961746f720b425f726573706f6e646572");
const SID = hex("7e4b4791d6a8ef019b936c79fb7f2c57");
const ADA = te.encode("ADa"), ADB = te.encode("ADb");
const YA_SCALAR = hex("da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08");
const YB_SCALAR = hex("d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d");
const YA = "d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157";
const YB = "3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258";
const K = "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f";

Deno.test(`${CPACE_DRAFT} A.1-A.3: prepend_len, lv_cat, ordering and both transcripts`, () => {
  assert.equal(toHex(prependLen(new Uint8Array())), "00");
  assert.equal(toHex(prependLen(te.encode("1234"))), "0431323334");
  const r = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
  assert.equal(toHex(prependLen(r(127))).slice(0, 4), "7f00");
  assert.equal(toHex(prependLen(r(128))).slice(0, 6), "800100");
  const lv = lvCat(te.encode("1234"), te.encode("5"), new Uint8Array(), te.encode("678"));
  assert.equal(toHex(lv), "043132333401350003363738");
  const b = (...x: number[]) => Uint8Array.from(x);
  assert.equal(lexicographicallyLarger(b(0), b(0, 0)), false);
  assert.equal(lexicographicallyLarger(b(1), b(0, 0)), true);
  assert.equal(lexicographicallyLarger(b(0, 0), b(0)), true);
  assert.equal(lexicographicallyLarger(b(0, 0), b(1)), false);
  assert.equal(lexicographicallyLarger(b(0, 1), b(1)), false);
  assert.equal(lexicographicallyLarger(te.encode("ABCD"), te.encode("BCD")), false);
  assert.equal(toHex(oCat(te.encode("ABCD"), te.encode("BCD"))), "6f6342434441424344");
  assert.equal(toHex(oCat(te.encode("BCD"), te.encode("ABCDE"))), "6f634243444142434445");
  const [a1, pa, b1, pb] = ["123", "PartyA", "234", "PartyB"].map((s) => te.encode(s));
  assert.equal(toHex(transcriptIr(a1, pa, b1, pb)), "03313233065061727479410332333406506172747942");
  assert.equal(
    toHex(transcriptOc(a1, pa, b1, pb)),
    "6f6303323334065061727479420331323306506172747941",
  );
});

Deno.test(`${CPACE_DRAFT} B.3.1: the generator string and the generator`, () => {
  assert.equal(
    toHex(generatorString(PRS, CI, SID)),
    "11435061636552697374726574746f3235350850617373776f726464" + "00".repeat(100) +
      "180b415f696e69746961746f720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f2c57",
  );
  assert.equal(
    calculateGenerator(PRS, CI, SID).toHex(),
    "222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56",
  );
});

Deno.test(`${CPACE_DRAFT} B.3.2-B.3.6: both shares, K, and ISK in both transcripts`, () => {
  const g = calculateGenerator(PRS, CI, SID);
  const ya = scalarFromBytes(YA_SCALAR), yb = scalarFromBytes(YB_SCALAR);
  assert.equal(toHex(scalarMult(ya, g)), YA);
  assert.equal(toHex(scalarMult(yb, g)), YB);
  const ka = scalarMultVfy(ya, hex(YB))!, kb = scalarMultVfy(yb, hex(YA))!;
  assert.equal(toHex(ka), K);
  assert.equal(toHex(kb), K);
  assert.equal(
    toHex(deriveIsk(SID, ka, transcriptIr(hex(YA), ADA, hex(YB), ADB))),
    "b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dcae7b35cd" +
      "2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c3fa2068af7900447",
  );
  assert.equal(
    toHex(deriveIsk(SID, kb, transcriptOc(hex(YA), ADA, hex(YB), ADB))),
    "544199d71f62f8d9a1fee55727e24fe4a45844593c2b6013c4fa3969d0e5debb" +
      "2244675c0b43397cbb68d342b01fc0f98fc961469a25134de9f0f813c1a57476",
  );
});

Deno.test(`${CPACE_DRAFT} B.3.10-B.3.11: scalar_mult_vfy, and the inputs it must refuse`, () => {
  const s = scalarFromBytes(
    hex("7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05"),
  );
  const x = hex("2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c");
  assert.equal(
    toHex(scalarMultVfy(s, x)!),
    "7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e",
  );
  const invalid = hex("2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c");
  assert.equal(scalarMultVfy(s, invalid), undefined);
  assert.equal(scalarMultVfy(s, new Uint8Array(32)), undefined);
});

Deno.test("a passphrase typed in NFC and in NFD is one passphrase, spaces kept", () => {
  const nfc = "caf\u00e9 au lait", nfd = "cafe\u0301 au lait";
  assert.notEqual(nfc, nfd);
  assert.equal(preparePassphrase(nfc), preparePassphrase(nfd));
  assert.equal(preparePassphrase(nfd), nfc);
  assert.equal(preparePassphrase("  two  "), "  two  ");
  assert.equal(preparePassphrase("no\u00a0break"), "no break");
  assert.deepEqual(preparePassphrase(""), { error: "Cannot use the passphrase: it is empty" });
  assert.deepEqual(preparePassphrase("tab\there"), {
    error: "Cannot use the passphrase: it contains a control character",
  });
});

Deno.test("a PIN or a short passphrase gets a warning with the guesses a day, a long one none", () => {
  assert.equal(
    weakPassphraseWarning("4711"),
    "the passphrase is short (a 4-digit PIN): someone who can reach this port gets about 31 " +
      "guesses a day, so use 12 characters or more (or several random words)",
  );
  assert.match(weakPassphraseWarning("hunter2")!, /\(7 characters\)/);
  assert.equal(weakPassphraseWarning("correct horse battery"), undefined);
});
