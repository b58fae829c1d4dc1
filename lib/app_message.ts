/**
 * What travels inside the reliable stream: one application message per protocol message.
 *   text: kind 1, origin u32, id u32, name length u8, name (UTF-8), text (UTF-8)
 *     (origin names the sender's state directory and id counts up within it, so a receiver
 *     recognises a message it already delivered even across restarts of either side)
 *   file control: kind 2, JSON (lib/files/control.ts)
 *   text with its time: kind 3, origin u32, id u32, sent at f64 (ms since 1970 on the sender's
 *     clock, 0 when unknown), name length u8, name, text: what this version sends, so a message
 *     that waited in the journal shows when it was written, not when it arrived
 *   file stream frame: kind 4 (lib/files/udp_stream.ts)
 * Decoding never throws; a malformed message comes back as a reason.
 */
export interface TextMessage {
  kind: "text";
  origin: number;
  id: number;
  name: string;
  text: string;
  /** When it was written, on the sender's clock (ms since 1970); absent when unknown. */
  sentAt?: number;
}

export interface ControlMessage {
  kind: "control";
  json: string;
}

/** A file stream frame, decoded by lib/files/udp_stream.ts. */
export interface FileFrameMessage {
  kind: "file";
  bytes: Uint8Array;
}

export type AppMessage = TextMessage | ControlMessage | FileFrameMessage;

const KIND_TEXT = 1;
const KIND_CONTROL = 2;
const KIND_TIMED_TEXT = 3;
/** Bytes before the name in a text message (kind 1). */
const PLAIN_TEXT_HEADER_BYTES = 10;
/** Bytes before the name in a text message with its time (kind 3, what is sent). */
export const TEXT_HEADER_BYTES = 18;
/** File stream frames (lib/files/udp_stream.ts). */
export const KIND_FILE = 4;
/** Names are labels, not content: 64 bytes is plenty and keeps the header small. */
export const MAX_NAME_BYTES = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The sender's name changes rarely: its bytes are kept. */
let lastName = { name: "", bytes: new Uint8Array(0) };

export function encodeText(m: Omit<TextMessage, "kind">): Uint8Array {
  if (m.name !== lastName.name) {
    lastName = { name: m.name, bytes: encoder.encode(m.name).subarray(0, MAX_NAME_BYTES) };
  }
  const name = lastName.bytes;
  const at = TEXT_HEADER_BYTES + name.length;
  // ASCII text (the usual case) is exactly as long in UTF-8: it fits, and is encoded in place.
  let out = new Uint8Array(at + m.text.length);
  if (encoder.encodeInto(m.text, out.subarray(at)).read < m.text.length) {
    const text = encoder.encode(m.text);
    out = new Uint8Array(at + text.length);
    out.set(text, at);
  }
  const view = new DataView(out.buffer);
  out[0] = KIND_TIMED_TEXT;
  view.setUint32(1, m.origin);
  view.setUint32(5, m.id);
  view.setFloat64(9, m.sentAt ?? 0);
  out[17] = name.length;
  out.set(name, TEXT_HEADER_BYTES);
  return out;
}

export function encodeControl(json: string): Uint8Array {
  const body = encoder.encode(json);
  const out = new Uint8Array(1 + body.length);
  out[0] = KIND_CONTROL;
  out.set(body, 1);
  return out;
}

export function decodeApp(bytes: Uint8Array): AppMessage | string {
  if (bytes[0] === KIND_CONTROL) {
    return { kind: "control", json: decoder.decode(bytes.subarray(1)) };
  }
  if (bytes[0] === KIND_FILE) return { kind: "file", bytes };
  if (bytes.length === 0) return "application message too short";
  if (bytes[0] !== KIND_TEXT && bytes[0] !== KIND_TIMED_TEXT) {
    return `unknown application message kind ${bytes[0]}`;
  }
  const header = bytes[0] === KIND_TEXT ? PLAIN_TEXT_HEADER_BYTES : TEXT_HEADER_BYTES;
  if (bytes.length < header) return "application message too short";
  const nameEnd = header + bytes[header - 1];
  if (nameEnd > bytes.length) return "name longer than message";
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const sentAt = header === TEXT_HEADER_BYTES ? view.getFloat64(9) : 0;
  const m: TextMessage = {
    kind: "text",
    origin: view.getUint32(1),
    id: view.getUint32(5),
    name: decoder.decode(bytes.subarray(header, nameEnd)),
    text: decoder.decode(bytes.subarray(nameEnd)),
  };
  if (Number.isFinite(sentAt) && sentAt > 0) m.sentAt = sentAt;
  return m;
}
