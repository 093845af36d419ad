/**
 * `pollcast chat` flags and environment → the options of a chat session.
 * Pure: a mistake is a `UsageError`, which the entry turns into exit code 2.
 */

import { parseArgs } from 'node:util';
import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';
import { TRANSPORTS, isTransport } from './receive.js';
import type { Transport } from './receive.js';
import { isName, MAX_NAME } from '../http/identity.js';

/** The text of `pollcast chat --help`. */
export const USAGE = `usage: pollcast chat [URL] [options]

  URL                  the pollcast server            (default http://127.0.0.1:8080)
  --channel C[,C2…]    channel(s) to join; lines go to the first (default ${DEFAULT_CHANNEL})
  --name N             publish lines as from N        (default $USER; --name '' for none)
  --transport T        ${TRANSPORTS.join(', ')} (default longpoll)
  --token T            bearer token for the server    (POLLCAST_TOKEN, default none)
  -h, --help           this text

Lines typed are published, in order, exactly once; messages print as they arrive,
history first, as "[HH:MM:SS] text". Ctrl-D sends what is queued, then exits.
`;

/** Where `pollcast chat` connects when no URL is given. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** A mistake in the flags: reported with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What a chat session needs to know. */
export interface ChatOptions {
  /** Server root without a trailing slash, e.g. `http://127.0.0.1:8080`. */
  readonly base: string;
  /** Channel to read and publish on (the first of `--channel a,b`). */
  readonly channel: string;
  /** Every channel to read, in one connection, when `--channel` names more than one. */
  readonly channels?: readonly string[];
  /** How messages are received. */
  readonly transport: Transport;
  /** The display name lines are published under (their `from`); empty for none. */
  readonly name: string;
  /** Bearer token for both subscribing and publishing, or none. */
  readonly token: string | undefined;
}

/**
 * Reads `argv` (the words after `chat`) and the environment (`USER`,
 * `POLLCAST_TOKEN`); `null` means `--help` was asked for.
 *
 * @example
 * parseChatArgs(['http://127.0.0.1:9000', '--channel', 'news'], {}) // { base: 'http://127.0.0.1:9000', channel: 'news', … }
 */
export function parseChatArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ChatOptions | null {
  const { values, positionals } = parseFlags(argv);
  if (values.help) return null;
  if (positionals.length > 1) throw new UsageError(`one URL at most, got ${positionals.length}`);
  const channels = (values.channel ?? DEFAULT_CHANNEL).split(',');
  for (const name of channels) {
    if (!CHANNEL_NAME.test(name)) throw new UsageError(`--channel must be 1 to 64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(name)}`);
  }
  if (new Set(channels).size !== channels.length) throw new UsageError('--channel names a channel twice');
  const channel = channels[0]!;
  const transport = values.transport ?? 'longpoll';
  if (!isTransport(transport))
    throw new UsageError(`--transport must be one of ${TRANSPORTS.join(', ')}, got ${JSON.stringify(transport)}`);
  const name = values.name ?? env.USER ?? '';
  if (name !== '' && !isName(name))
    throw new UsageError(`--name must be 1 to ${MAX_NAME} characters without control characters, got ${JSON.stringify(name.slice(0, 80))}`);
  return {
    base: serverRoot(positionals[0] ?? DEFAULT_URL),
    channel,
    ...(channels.length > 1 && { channels }),
    transport,
    name,
    token: values.token || env.POLLCAST_TOKEN || undefined,
  };
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        channel: { type: 'string' },
        name: { type: 'string' },
        transport: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // Node's advice on `--` after an unknown option would make the error two sentences long.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional .*$/s, ''));
  }
}

/** An `http:` or `https:` URL with neither query nor fragment, without its trailing slashes. */
function serverRoot(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`the URL must be http: or https:, got ${JSON.stringify(raw)}`);
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(`the URL names the server only (no query, fragment or credentials), got ${JSON.stringify(raw)}`);
  }
  return url.href.replace(/\/+$/, '');
}
