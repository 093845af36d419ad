/**
 * The browser client as a library: `import { createFeed, SharedFeed } from 'pollcast/client'`
 * in an application's own bundle (ESM, with types). Re-exports only.
 */
export { createFeed, isTransport, TRANSPORTS } from '../client/feed.js';
export type { Feed, FeedOptions, Transport, WebSocketConstructor, WebSocketLike } from '../client/feed.js';
export { SharedFeed } from './shared-feed.js';
export type { SharedFeedOptions } from './shared-feed.js';
export { SharedChannels } from './shared-channels.js';
export type { SharedChannelsOptions } from './shared-channels.js';
export { ChannelsFeed } from '../client/channels-feed.js';
export type { ChannelsFeedOptions } from '../client/channels-feed.js';
export { LongPollFeed } from '../client/long-poll-feed.js';
export { CLOSED, CONNECTING, LIVE, OFFLINE, RECONNECTING } from '../client/reconnect.js';
export type { FeedError, FeedState, StateDetail } from '../client/reconnect.js';
export { withToken } from '../client/http-answer.js';
export { publishOnce, publishUrl, uuid } from '../client/publish.js';
export type { PublishOutcome, PublishRequest } from '../client/publish.js';
export { RecentIds } from '../client/recent-ids.js';
export { CHANNEL_NAME, DEFAULT_CHANNEL, HEADER, OLDEST } from '../protocol.js';
export type { Batch, Message, Published } from '../protocol.js';
