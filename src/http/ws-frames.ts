/**
 * Server-to-client WebSocket text frames (RFC 6455 §5.2): final, unmasked,
 * uncompressed, as `ws` sends them with compression off. Pure. Made here so
 * that several frames go out in one socket write and the frames of one
 * batch are made once for every connection it goes to; `ws` still reads the
 * client's frames, pings and closes.
 */

/** FIN and the text opcode. */
const FIN_TEXT = 0x81;

/** `texts` as consecutive text frames, in one buffer. */
export function textFrames(texts: readonly string[]): Buffer {
  const lengths = texts.map((text) => Buffer.byteLength(text));
  let total = 0;
  for (const length of lengths) total += headerLength(length) + length;
  const frames = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < texts.length; i++) {
    const length = lengths[i]!;
    frames[offset] = FIN_TEXT;
    if (length < 126) {
      frames[offset + 1] = length;
      offset += 2;
    } else if (length < 65_536) {
      frames[offset + 1] = 126;
      frames.writeUInt16BE(length, offset + 2);
      offset += 4;
    } else {
      frames[offset + 1] = 127;
      frames.writeBigUInt64BE(BigInt(length), offset + 2);
      offset += 10;
    }
    offset += frames.write(texts[i]!, offset, 'utf8');
  }
  return frames;
}

/** The header's bytes for a payload of `length` bytes: 7-bit, 16-bit or 64-bit length. */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}
