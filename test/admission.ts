import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import t from 'tap';
import type { Rights } from '../src/http/auth.js';
import { createContext } from '../src/http/context.js';
import { createLogger } from '../src/log.js';
import { LocalPresence } from '../src/presence.js';
import type { Context } from '../src/http/context.js';
import { MemoryHub } from '../src/memory-hub.js';
import { resolveOptions } from '../src/options.js';
import { events } from '../src/http/routes/events.js';
import { subscribe } from '../src/http/routes/subscribe.js';

/** Rights that let anyone subscribe anywhere, handed over only when the test says: a verification still under way. */
function pendingRights(): { rights: Promise<Rights>; verified: () => void } {
  let verified!: () => void;
  const grant: Rights = { check: () => ({ identity: undefined, expires: Infinity }), may: () => true, identity: undefined };
  const rights = new Promise<Rights>((resolve) => (verified = () => resolve(grant)));
  return { rights, verified };
}

/** A request whose client hung up: its socket is already destroyed (and will not close again). */
function goneRequest(): IncomingMessage {
  const socket = Object.assign(new EventEmitter(), { destroyed: true, remoteAddress: '127.0.0.1' });
  return { headers: {}, socket, url: '/subscribe/room' } as unknown as IncomingMessage;
}

const res = { writeHead: () => undefined, write: () => true, end: () => undefined, headersSent: false } as unknown as ServerResponse;

for (const [name, route] of [
  ['long poll', subscribe],
  ['event stream', events],
] as const) {
  t.test(`${name}: a client that left while its token was verified holds no place and no wait`, async (t) => {
    const hub = new MemoryHub();
    const base = createContext(
      hub,
      new LocalPresence(1),
      resolveOptions({ maxWaiting: 1, maxWaitingPerClient: 1 }),
      createLogger('silent'),
    );
    const { rights, verified } = pendingRights();
    const ctx: Context = { ...base, rights: () => rights };
    const done = route(goneRequest(), res, ctx, 'room', new URLSearchParams());
    verified();
    await done;
    t.equal(hub.stats().waiting, 0, 'the hub holds no wait for it');
    t.ok(ctx.room.enter('other'), 'and its waiting-room place (the only one) is free');
  });
}
