/**
 * The feed a chat session reads from: the browser client's own DOM-free
 * feeds (`createFeed`), set up for Node — no `online`/`offline` events to
 * wait for, Node's `fetch`, and the `ws` package's `WebSocket`. Whatever the
 * transport, the feed loads the history first, resumes from its cursor
 * across failures and restarts, drops repeats and says when messages were
 * missed.
 */

import { ChannelsFeed } from '../client/channels-feed.js';
import { createFeed } from '../client/feed.js';
import type { Feed, FeedOptions, Transport, WebSocketConstructor } from '../client/feed.js';
import { explainedFetch } from './fetch.js';

export { TRANSPORTS, isTransport } from '../client/feed.js';
export type { Feed, Transport } from '../client/feed.js';
import type { Message } from '../protocol.js';

/** Where to read from and who to tell. */
export interface ReceiveOptions extends Pick<FeedOptions, 'base' | 'channel' | 'token' | 'onMessage' | 'onMissed' | 'onState'> {
  readonly transport: Transport;
}

/** Starts following the channel from its oldest kept message. */
export async function openFeed(options: ReceiveOptions): Promise<Feed> {
  // Only a WebSocket chat loads `ws`, as only a WebSocket upgrade loads it on the server.
  const WebSocket = options.transport === 'websocket' ? await loadWebSocket() : undefined;
  return createFeed({ ...options, WebSocket, fetch: explainedFetch, network: null, onLine: () => true });
}

/** What a chat in several rooms needs to hear. */
export interface RoomsOptions extends Pick<FeedOptions, 'base' | 'token' | 'onState'> {
  readonly transport: Transport;
  readonly channels: readonly string[];
  readonly onMessage: (channel: string, message: Message) => void;
  readonly onMissed: (channel: string) => void;
}

/** Follows several channels on one connection, each from its oldest kept message. */
export async function openRooms(options: RoomsOptions): Promise<Pick<Feed, 'close'>> {
  const WebSocket = options.transport === 'websocket' ? await loadWebSocket() : undefined;
  const { channels, ...settings } = options;
  const feed = new ChannelsFeed({ ...settings, WebSocket, fetch: explainedFetch, network: null, onLine: () => true });
  for (const channel of channels) feed.add(channel);
  return feed;
}

async function loadWebSocket(): Promise<WebSocketConstructor> {
  const { WebSocket } = await import('ws');
  return WebSocket;
}
