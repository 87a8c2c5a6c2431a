/**
 * A WebSocket endpoint of the fake upstream (`GET /ws` with `Upgrade: websocket`, as ComfyUI has):
 * the RFC 6455 handshake, then every frame the client sends comes back as a text frame
 * `echo:<payload>`, and on connect it sends `hello <model>`. Enough to test a passthrough end to
 * end; close frames are answered, masking is undone, payloads up to 64 KiB.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One unmasked server frame (text, or close with opcode 8). */
export function frame(payload: Buffer, opcode = 0x1): Buffer {
  if (payload.length < 126) return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
  const header = Buffer.alloc(4);
  header[0] = 0x80 | opcode;
  header[1] = 126;
  header.writeUInt16BE(payload.length, 2);
  return Buffer.concat([header, payload]);
}

/** Frames complete in `buffer`, unmasked; the rest stays for the next chunk. */
export function readFrames(buffer: Buffer): { frames: { opcode: number; payload: Buffer }[]; rest: Buffer } {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let offset = 0;
  while (buffer.length - offset >= 2) {
    const opcode = buffer[offset]! & 0x0f;
    const masked = (buffer[offset + 1]! & 0x80) !== 0;
    let length = buffer[offset + 1]! & 0x7f;
    let at = offset + 2;
    if (length === 126) {
      if (buffer.length < at + 2) break;
      length = buffer.readUInt16BE(at);
      at += 2;
    } else if (length === 127) break; // not needed here
    const maskAt = at;
    if (masked) at += 4;
    if (buffer.length < at + length) break;
    const payload = Buffer.from(buffer.subarray(at, at + length));
    if (masked) for (let i = 0; i < payload.length; i += 1) payload[i]! ^= buffer[maskAt + (i % 4)]!;
    frames.push({ opcode, payload });
    offset = at + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

export function handleUpgrade(req: IncomingMessage, socket: Duplex, model: string): void {
  const key = req.headers['sec-websocket-key'];
  if (!(req.url ?? '').startsWith('/ws') || typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.write(frame(Buffer.from(`hello ${model}`)));
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    const { frames, rest } = readFrames(Buffer.concat([pending, chunk]));
    pending = rest;
    for (const { opcode, payload } of frames) {
      if (opcode === 0x8) {
        socket.end(frame(payload, 0x8));
        return;
      }
      socket.write(frame(Buffer.concat([Buffer.from('echo:'), payload])));
    }
  });
  socket.on('error', () => undefined);
}
