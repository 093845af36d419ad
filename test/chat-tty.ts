import t from 'tap';
import type { Test } from 'tap';
import { forkServer } from './fixtures/server.js';
import { publish } from './fixtures/http.js';
import { historyTexts, spawnChatTty, visible } from './fixtures/chat.js';
import type { ChatChild } from './fixtures/chat.js';

/** What a hostile message might try: set the window title, ring, clear the screen, recolour, move up, a C1 CSI. */
const HOSTILE = 'pwn\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[1A\u009b1mend';
const SHOWN = 'pwn␛]0;owned␇␛[2J␛[31mred␛[1A\ufffd1mend';

/** A chat on a pseudo-terminal, once it says it is live. */
async function liveOnTty(t: Test, origin: string): Promise<ChatChild> {
  const chat = spawnChatTty(t, [origin]);
  await chat.stdout.waitFor(/-- live/);
  return chat;
}

/** What the terminal shows from the moment `act` starts until `until` matches it. */
async function outputOf(chat: ChatChild, act: () => unknown, until: RegExp): Promise<string> {
  const mark = chat.stdout.text.length;
  await act();
  return (await chat.stdout.waitFor(until, 10_000, mark)).slice(mark);
}

t.test('on a terminal: history, a prompt kept intact under arriving messages, own lines echoed once as messages', async (t) => {
  const server = await forkServer(t);
  await publish(server.origin, 'before');
  const chat = spawnChatTty(t, [server.origin, '--name', 'ann']);
  await chat.stdout.waitFor(/\[\d\d:\d\d:\d\d\] before/);
  await chat.stdout.waitFor(/-- live/);
  chat.type('half typ');
  await chat.stdout.waitFor(/half typ/);

  const arrived = await outputOf(chat, () => publish(server.origin, 'from bob'), /from bob[^]*half typ/);
  t.match(arrived, /\x1b\[0J\[\d\d:\d\d:\d\d\] from bob\r\n/, 'the input line is cleared before the message is written');
  t.match(visible(arrived), /^\[\d\d:\d\d:\d\d\] from bob\r\n> half typ$/, 'then the prompt and the half-typed text are back, below it');

  const echoed = await outputOf(chat, () => chat.type('ed\r'), /\[\d\d:\d\d:\d\d\] ann: half typed\r\n/);
  // readline may first move the cursor back to the end of the input (a message was drawn above it meanwhile).
  t.match(echoed, /^(\x1b\[\d+G)?ed\r+\n\x1b\[1A\x1b\[1G\x1b\[0J/, 'the entered line is wiped: up a row, to its start, cleared');
  t.match(visible(echoed), /^ed\r+\n> \[\d\d:\d\d:\d\d\] ann: half typed\r\n/, 'and it comes back once, as a message');
  t.same(await historyTexts(server.origin), ['before', 'from bob', 'ann: half typed'], 'the line is published once, with the name');

  chat.type('\x03');
  t.equal(await chat.exited, 130, 'Ctrl-C exits at once');
});

t.test('on a terminal: a hostile message cannot move the cursor, recolour or retitle anything', async (t) => {
  const server = await forkServer(t);
  const chat = await liveOnTty(t, server.origin);
  const screen = await outputOf(chat, () => publish(server.origin, HOSTILE), /1mend/);
  t.ok(screen.includes(SHOWN), 'shown with visible stand-ins');
  for (const [what, raw] of [
    ['OSC title', '\x1b]0;'],
    ['bell', '\x07'],
    ['clear screen', '\x1b[2J'],
    ['colour', '\x1b[31m'],
    ['cursor up', '\x1b[1A'],
    ['C1 CSI', '\u009b'],
  ]) {
    t.notOk(screen.includes(raw!), `no raw ${what}`);
  }

  const shown = visible(await outputOf(chat, () => publish(server.origin, 'first line\nsecond line'), /second line/));
  t.match(shown, /\[\d\d:\d\d:\d\d\] first line\r\n {11}second line\r\n/, 'a multi-line message prints all its lines');

  chat.type('\x04');
  t.equal(await chat.exited, 0, 'Ctrl-D on an empty line ends the chat');
});

t.test('on a terminal: Ctrl-D with a line still unsent waits for it, without a prompt, then exits 0', async (t) => {
  const first = await forkServer(t);
  const chat = await liveOnTty(t, first.origin);
  await first.stop();
  chat.type('sent late\r');
  await chat.stdout.waitFor(/-- sending again in \d+s[^\n]*\n[^]*> /);
  const mark = chat.stdout.text.length;
  chat.type('\x04');
  await chat.stdout.waitFor(/-- (sending again|reconnecting) in/, 20_000, mark);
  const second = await forkServer(t, ['--port', String(first.port)]);
  t.equal(await chat.exited, 0);
  t.same(await historyTexts(second.origin), ['sent late'], 'published once, after the restart');
  const after = visible(chat.stdout.text.slice(mark));
  t.notMatch(after, /\n> /, 'notices went on while it waited, with no prompt redrawn under them');
});
