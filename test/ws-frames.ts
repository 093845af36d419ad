import t from 'tap';
import type { Writable } from 'node:stream';
import * as wsModule from 'ws';
import { textFrames } from '../src/http/ws-frames.js';

// ws exports its frame parser, but @types/ws does not declare it.
const { Receiver } = wsModule as unknown as { Receiver: new (options: { isServer: boolean }) => Writable };

/** What `ws`'s own parser reads from the bytes, as a client would. */
function receive(bytes: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const texts: string[] = [];
    // A client's receiver: frames from a server come unmasked.
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, isBinary: boolean) => texts.push(isBinary ? '<binary>' : data.toString('utf8')));
    receiver.on('error', reject);
    receiver.write(bytes, () => resolve(texts));
  });
}

t.test('every payload length form reads back as the same texts, in order', async (t) => {
  const texts = ['', 'a', 'x'.repeat(125), 'y'.repeat(126), 'z'.repeat(65_535), 'w'.repeat(65_536), '{"text":"😀 ünï\\n"}', 'é'.repeat(70)];
  const bytes = textFrames(texts);
  t.same(await receive(bytes), texts);
  t.equal(bytes[0], 0x81, 'final text frame');
  t.equal(bytes[1], 0, 'unmasked, empty');
});

t.test('the length counts bytes, not characters', async (t) => {
  const text = 'é'.repeat(70);
  const bytes = textFrames([text]);
  t.equal(bytes[1], 126, '140 bytes need the 16-bit length');
  t.equal(bytes.readUInt16BE(2), 140);
  t.equal(bytes.length, 4 + 140);
});

t.test('no texts, no bytes', async (t) => {
  t.equal(textFrames([]).length, 0);
});
