import t from 'tap';
import { MISSED, clock, describeState, formatMessage, neutralise, notice } from '../src/chat/render.js';

/** A time whose local clock reads 09:05:03, whatever the time zone. */
const TIME = new Date(2026, 0, 2, 9, 5, 3).getTime();
/** Anything a terminal would act on rather than show. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

t.test('formatMessage(): [HH:MM:SS] text, multi-line texts indented under it', async (t) => {
  t.same(formatMessage({ id: '1', text: 'hi', time: TIME }), ['[09:05:03] hi']);
  t.same(
    formatMessage({ id: '1', text: 'hi', time: TIME, from: { name: 'Az\u001b]0;x\u0007in', verified: false } }),
    ['[09:05:03] Az\u241b]0;x\u2407in: hi'],
    'the author first, neutralised like the text',
  );
  t.same(formatMessage({ id: '2', text: 'one\ntwo\r\nthree\rfour', time: TIME }), [
    '[09:05:03] one',
    '           two',
    '           three',
    '           four',
  ]);
  t.same(formatMessage({ id: '3', text: 'ends with a break\n', time: TIME }), ['[09:05:03] ends with a break', '           ']);
  t.equal(clock(new Date(2026, 0, 2, 23, 59, 59).getTime()), '23:59:59');
  t.same(formatMessage({ id: '4', text: 'without a time', time: Number.NaN }), ['[--:--:--] without a time'], 'no time: no made-up time');
});

t.test('neutralise(): no control character reaches the terminal', async (t) => {
  t.equal(neutralise('\x1b[2J\x1b[31mred\x1b[0m'), '␛[2J␛[31mred␛[0m', 'CSI: clear screen, colours');
  t.equal(neutralise('\x1b]0;pwned\x07'), '␛]0;pwned␇', 'OSC: window title, bell');
  t.equal(neutralise('a\bb\x7f'), 'a␈b␡', 'backspace, DEL');
  t.equal(neutralise('\x9b31m'), '\ufffd31m', 'C1 CSI');
  t.equal(neutralise('abc\u202edcba'), 'abc\ufffddcba', 'bidi override');
  t.equal(neutralise('tab\there'), 'tab here');
  t.equal(neutralise('plain, ünïcödé, 漢字, emoji 🎉'), 'plain, ünïcödé, 漢字, emoji 🎉', 'text stays as it is');
  let every = '';
  for (let code = 0; code < 0xa0; code++) every += String.fromCharCode(code);
  t.notMatch(neutralise(every.replace('\n', '')), RAW_CONTROL, 'all of C0, DEL and C1');
});

t.test('a hostile message is shown, not obeyed, on every line', async (t) => {
  const lines = formatMessage({ id: '1', text: 'x\x1b[1A\x1b[2K\r\x1b[31mfake prompt> \nline 2\x1b[?25l', time: TIME });
  t.equal(lines.length, 3, 'a lone CR ends a line rather than returning the cursor');
  for (const line of lines) t.notMatch(line, RAW_CONTROL);
  t.same(lines, ['[09:05:03] x␛[1A␛[2K', '           ␛[31mfake prompt> ', '           line 2␛[?25l']);
});

t.test('notice(): marked, one line, neutralised', async (t) => {
  t.equal(notice('live'), '-- live');
  t.equal(notice('503 no\nway\x1b[31m'), '-- 503 no way␛[31m');
  t.match(notice(MISSED), /^-- missed: /);
});

t.test('describeState(): connecting, live, reconnecting in Ns: reason', async (t) => {
  const now = 1_000_000;
  t.equal(describeState('connecting', { retryAt: null, error: null }, now), 'connecting');
  t.equal(describeState('live', { retryAt: null, error: null }, now), 'live');
  t.equal(
    describeState('reconnecting', { retryAt: now + 1500, error: { status: 503, reason: 'server shutting down' } }, now),
    'reconnecting in 2s: 503 server shutting down',
  );
  t.equal(
    describeState('reconnecting', { retryAt: now + 4000, error: { status: null, reason: 'fetch failed: connect ECONNREFUSED' } }, now),
    'reconnecting in 4s: fetch failed: connect ECONNREFUSED',
  );
  t.equal(describeState('reconnecting', { retryAt: now, error: null }, now), 'reconnecting in 0s');
  t.equal(describeState('closed', { retryAt: null, error: null }, now), null, "closing is the session's own doing");
});
