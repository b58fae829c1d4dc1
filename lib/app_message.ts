/**
 * What travels inside the reliable stream: one application message per protocol message.
 *   text: kind 1, id u32, name length u8, name (UTF-8), text (UTF-8)
 *   file control: kind 2, JSON (lib/files/control.ts)
 * Decoding never throws; a malformed message comes back as a reason.
 */
export interface TextMessage {
  kind: "text";
  id: number;
  name: string;
  text: string;
}

export interface ControlMessage {
  kind: "control";
  json: string;
}

export type AppMessage = TextMessage | ControlMessage;

const KIND_TEXT = 1;
const KIND_CONTROL = 2;
/** Names are labels, not content: 64 bytes is plenty and keeps the header small. */
export const MAX_NAME_BYTES = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeText(m: Omit<TextMessage, "kind">): Uint8Array {
  const name = encoder.encode(m.name).subarray(0, MAX_NAME_BYTES);
  const text = encoder.encode(m.text);
  const out = new Uint8Array(6 + name.length + text.length);
  out[0] = KIND_TEXT;
  new DataView(out.buffer).setUint32(1, m.id);
  out[5] = name.length;
  out.set(name, 6);
  out.set(text, 6 + name.length);
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
  if (bytes.length < 6) return "application message too short";
  if (bytes[0] !== KIND_TEXT) return `unknown application message kind ${bytes[0]}`;
  const nameEnd = 6 + bytes[5];
  if (nameEnd > bytes.length) return "name longer than message";
  return {
    kind: "text",
    id: new DataView(bytes.buffer, bytes.byteOffset).getUint32(1),
    name: decoder.decode(bytes.subarray(6, nameEnd)),
    text: decoder.decode(bytes.subarray(nameEnd)),
  };
}
