/**
 * `pollcast chat`: a terminal client. Lines typed are published in order,
 * exactly once; messages print as they arrive, history first, with the feed's
 * no-loss resume across failures and server restarts. Resolves with the exit
 * code, so that `cli.ts` stays the only place that calls `process.exit`.
 */

import { publishUrl } from '../client/publish.js';
import type { FeedState, StateDetail } from '../client/reconnect.js';
import type { Message } from '../protocol.js';
import { USAGE, UsageError, parseChatArgs } from './args.js';
import type { ChatOptions } from './args.js';
import { explainedFetch } from './fetch.js';
import { Outbox } from './outbox.js';
import { openFeed, openRooms } from './receive.js';
import type { Feed } from './receive.js';
import { MISSED, describeState, formatMessage, formatRoomMessage, notice } from './render.js';
import { Terminal } from './terminal.js';
import type { TerminalStreams } from './terminal.js';

/** How long the end of input waits for queued lines to be accepted. */
const DRAIN_MS = 10_000;
/** Exit codes: 130 and 143 are what shells report for a program ended by SIGINT (Ctrl-C) and SIGTERM. */
const EXIT = { done: 0, failed: 1, usage: 2, interrupted: 130, terminated: 143 } as const;
/** How much of a refused line its error shows. */
const PREVIEW = 40;

/** The process's side of a session; `process` fits. */
export interface ChatProcess {
  readonly stdin: TerminalStreams['input'];
  readonly stdout: TerminalStreams['output'];
  readonly stderr: TerminalStreams['errors'];
  once(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

/**
 * Runs `pollcast chat` with the words after `chat`, until the input ends or
 * Ctrl-C; resolves with the exit code: 0, 1 when lines were left unsent (or
 * stdout went away), 2 for bad flags, 130 after Ctrl-C, 143 after SIGTERM.
 *
 * @example
 * process.exit(await chat(['--channel', 'news'], process.env, process));
 */
export async function chat(argv: readonly string[], env: NodeJS.ProcessEnv, io: ChatProcess): Promise<number> {
  let options: ChatOptions | null;
  try {
    options = parseChatArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`pollcast chat: ${error.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (!options) {
    io.stdout.write(USAGE);
    return EXIT.done;
  }
  return run(options, io);
}

function run(options: ChatOptions, io: ChatProcess): Promise<number> {
  return new Promise((resolve) => new Session(options, io, resolve));
}

/** One chat from start to exit: the terminal, the outbox and the feed, and how they end. */
class Session {
  readonly #io: ChatProcess;
  readonly #done: (code: number) => void;
  readonly #terminal: Terminal;
  readonly #outbox: Outbox;
  readonly #feed: Promise<Pick<Feed, 'close'>>;
  /** The input ended: lines still queued go, nothing new comes. */
  #ending = false;
  #finished = false;

  constructor(options: ChatOptions, io: ChatProcess, done: (code: number) => void) {
    this.#io = io;
    this.#done = done;
    this.#terminal = new Terminal(
      { input: io.stdin, output: io.stdout, errors: io.stderr },
      {
        onLine: this.#onLine,
        onEnd: this.#onEnd,
        onInterrupt: this.#onInterrupt,
      },
    );
    const where = options.channels
      ? `channels ${options.channels.join(', ')}; lines go to ${options.channel}`
      : `channel ${options.channel}`;
    this.#terminal.tell(notice(`connecting to ${options.base}, ${where} (${options.transport})`));
    this.#outbox = openOutbox(options, this.#terminal);
    this.#feed = openReceiver(options, this.#terminal);
    this.#feed.catch((error: Error) => this.#fail(`cannot follow the channel: ${error.message}`));
    io.once('SIGINT', this.#onInterrupt);
    io.once('SIGTERM', this.#onTerminate);
    // A reader that went away (`pollcast chat | head -1`): stop, rather than die of EPIPE.
    io.stdout.once('error', this.#onOutputError);
  }

  #onLine = (line: string): void => {
    if (line === '' || this.#ending) return;
    this.#outbox.push(line);
  };

  #onEnd = (): void => {
    this.#ending = true;
    void this.#outbox.drain(DRAIN_MS).then((drained) => {
      if (drained) this.#finish(EXIT.done);
      else this.#fail(`gave up after ${DRAIN_MS / 1000}s: ${this.#outbox.pending} line(s) not sent`);
    });
  };

  #onInterrupt = (): void => this.#finish(EXIT.interrupted);
  #onTerminate = (): void => this.#finish(EXIT.terminated);
  #onOutputError = (): void => this.#finish(EXIT.failed);

  #fail(reason: string): void {
    this.#terminal.tell(notice(reason));
    this.#finish(EXIT.failed);
  }

  #finish(code: number): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#io.off('SIGINT', this.#onInterrupt);
    this.#io.off('SIGTERM', this.#onTerminate);
    void this.#feed.then(
      (feed) => feed.close(),
      () => undefined,
    );
    this.#outbox.close();
    this.#terminal.close();
    this.#done(code);
  }
}

function openOutbox(options: ChatOptions, terminal: Terminal): Outbox {
  return new Outbox({
    url: publishUrl(options.base, options.channel),
    token: options.token,
    name: options.name || undefined,
    fetch: explainedFetch,
    onRefused: (text, problem) => terminal.tell(notice(`not sent: ${problem}: ${preview(text)}`)),
    onRetry: (_text, problem, delay) => terminal.tell(notice(`sending again in ${Math.ceil(delay / 1000)}s: ${problem}`)),
  });
}

function openReceiver(options: ChatOptions, terminal: Terminal): Promise<Pick<Feed, 'close'>> {
  let last = '';
  // A feed that keeps failing the same way would repeat its line at every retry.
  const onState = (state: FeedState, detail: StateDetail): void => {
    const line = describeState(state, detail, Date.now());
    if (line === null || line === last) return;
    last = line;
    terminal.tell(notice(line));
  };
  if (options.channels) {
    return openRooms({
      base: options.base,
      channels: options.channels,
      token: options.token,
      transport: options.transport,
      onMessage: (channel, message) => terminal.print(formatRoomMessage(channel, message)),
      onMissed: (channel) => terminal.tell(notice(`#${channel} ${MISSED}`)),
      onState,
    });
  }
  return openFeed({
    base: options.base,
    channel: options.channel,
    token: options.token,
    transport: options.transport,
    onMessage: (message: Message) => terminal.print(formatMessage(message)),
    onMissed: () => terminal.tell(notice(MISSED)),
    onState,
  });
}

function preview(text: string): string {
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text;
}
