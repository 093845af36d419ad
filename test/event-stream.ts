import t from 'tap';
import { EventStreamParser } from '../src/client/event-stream.js';
import type { StreamEvent } from '../src/client/event-stream.js';

const encoder = new TextEncoder();

/** Parses `chunks` in order and returns the events, the retry hints and the last event id. */
function parse(...chunks: Array<string | Uint8Array>) {
  const events: StreamEvent[] = [];
  const retries: number[] = [];
  const parser = new EventStreamParser(
    (event) => events.push(event),
    (ms) => retries.push(ms),
  );
  for (const chunk of chunks) parser.push(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
  return { events, retries, lastEventId: parser.lastEventId };
}

const ev = (data: string, lastEventId = '', type = 'message', time = Number.NaN, from = ''): StreamEvent => ({
  type,
  data,
  lastEventId,
  time,
  from,
});

t.test('line ends: LF, CR and CRLF each end a line, mixed in one stream', async (t) => {
  t.same(parse('data: a\n\n').events, [ev('a')]);
  t.same(parse('data: a\r\r').events, [ev('a')]);
  t.same(parse('data: a\r\n\r\n').events, [ev('a')]);
  t.same(parse('data: a\r\ndata: b\rdata: c\n\r\n').events, [ev('a\nb\nc')]);
});

t.test('data: several fields join with LF; one leading space is dropped, the rest kept', async (t) => {
  t.same(parse('data: one\ndata:two\ndata:  three\ndata\n\n').events, [ev('one\ntwo\n three\n')]);
  t.same(parse('data: a: b\n\n').events, [ev('a: b')], 'only the first colon separates');
  t.same(parse('data:\n\n').events, [ev('')], 'an empty data field is still data');
});

t.test('comments and unknown fields are ignored; an event without data is not dispatched', async (t) => {
  const { events, lastEventId } = parse(':\n\n: heartbeat\n\nfoo: bar\nid: 7\n\ndata: x\n\n');
  t.same(events, [ev('x', '7')], 'the id of the empty event carries over');
  t.equal(lastEventId, '7');
});

t.test('id: set at the blank line, carried to later events, an id with NUL ignored, an empty id clears', async (t) => {
  t.same(parse('id: a\ndata: 1\n\ndata: 2\n\nid: b\0c\ndata: 3\n\nid\ndata: 4\n\n').events, [
    ev('1', 'a'),
    ev('2', 'a'),
    ev('3', 'a'),
    ev('4', ''),
  ]);
  t.equal(parse('id: x\n').lastEventId, '', 'not before the event ends');
  t.equal(parse('id: x\n\n').lastEventId, 'x');
});

t.test('event: names the type, for that event only', async (t) => {
  t.same(parse('event: missed\ndata: {"cursor":"c"}\n\ndata: m\n\n').events, [ev('{"cursor":"c"}', '', 'missed'), ev('m')]);
  t.same(parse('event: x\n\ndata: m\n\n').events, [ev('m')], 'an event without data resets the type too');
});

t.test("from: pollcast's author field, for that event only", async (t) => {
  const from = '{"id":"u1","name":"Az\\u00edn","verified":true}';
  t.same(parse(`id: a\nfrom: ${from}\ndata: 1\n\ndata: 2\n\n`).events, [ev('1', 'a', 'message', Number.NaN, from), ev('2', 'a')]);
  t.same(parse(`from: ${from}\n\ndata: m\n\n`).events, [ev('m')], 'an event without data resets it too');
});

t.test("time: pollcast's publish time, for that event only; anything but digits is ignored", async (t) => {
  t.same(parse('id: a\ntime: 1796155257591\ndata: 1\n\ndata: 2\n\ntime: 12.5\ndata: 3\n\ntime: -1\ntime\ndata: 4\n\n').events, [
    ev('1', 'a', 'message', 1796155257591),
    ev('2', 'a'),
    ev('3', 'a'),
    ev('4', 'a'),
  ]);
  t.same(parse('time: 5\n\ndata: m\n\n').events, [ev('m')], 'an event without data resets it too');
});

t.test('retry: only digits count', async (t) => {
  t.same(parse('retry: 2000\nretry: 1.5\nretry: -1\nretry: x\nretry:\n\n').retries, [2000]);
});

t.test('chunks split anywhere give the same events', async (t) => {
  const stream =
    'retry: 10\r\nid: c1\r\n\r\n: hi\r\nid: m-1\r\ndata: grüße 👋\r\ndata: line 2\r\n\r\nevent: missed\rdata: {}\r\rid: m-2\ndata: end\n\n';
  const bytes = encoder.encode(stream);
  const whole = parse(bytes);
  t.equal(whole.events.length, 3);
  for (let at = 1; at < bytes.length; at++) {
    const split = parse(bytes.slice(0, at), bytes.slice(at));
    if (JSON.stringify(split) !== JSON.stringify(whole)) {
      t.fail(`split at byte ${at} differs: ${JSON.stringify(split.events)}`);
      return;
    }
  }
  const byByte = parse(...Array.from(bytes, (byte) => Uint8Array.of(byte)));
  t.same(byByte, whole, 'one byte at a time, unicode split across chunks included');
});

t.test('CR at a chunk end then LF: one line end, not two', async (t) => {
  t.same(parse('data: a\r', '\ndata: b\r', '\n\r', '\n').events, [ev('a\nb')]);
  t.same(parse('data: a\r', '', '\n\n').events, [ev('a')], 'an empty chunk in between changes nothing');
});

t.test('a leading BOM is dropped; an unfinished event at the end is not dispatched', async (t) => {
  t.same(parse(Uint8Array.of(0xef, 0xbb, 0xbf), 'data: a\n\ndata: b\n').events, [ev('a')]);
});
