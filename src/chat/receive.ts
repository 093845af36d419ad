/**
 * The feed a chat session reads from: the browser client's own DOM-free
 * poller, set up for Node (no `online`/`offline` events to wait for, Node's
 * `fetch`). It loads the history first, resumes from its cursor across
 * failures and restarts, drops repeats and says when messages were missed.
 */

import { Poller } from '../client/poller.js';
import type { PollerOptions } from '../client/poller.js';
import { explainedFetch } from './fetch.js';

/** The ways a chat can receive messages. */
export const TRANSPORTS = ['longpoll'] as const;

/** One of `TRANSPORTS`. */
export type Transport = (typeof TRANSPORTS)[number];

/** Whether `value` names a transport. */
export function isTransport(value: string): value is Transport {
  return (TRANSPORTS as readonly string[]).includes(value);
}

/** What a session keeps of its feed. */
export interface Receiver {
  close(): void;
}

/** Where to read from and who to tell. */
export interface ReceiveOptions extends Pick<PollerOptions, 'base' | 'channel' | 'token' | 'onMessage' | 'onMissed' | 'onState'> {
  readonly transport: Transport;
}

/** Starts following the channel from its oldest kept message. */
export function openFeed(options: ReceiveOptions): Receiver {
  const { transport: _longpoll, ...rest } = options;
  return new Poller({ ...rest, fetch: explainedFetch, network: null, onLine: () => true });
}
