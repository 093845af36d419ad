/**
 * `pollcast chat`: a terminal client. Lines typed are published in order,
 * exactly once; messages print as they arrive, history first, with the feed's
 * no-loss resume across failures and server restarts. Resolves with the exit
 * code, so that `cli.ts` stays the only place that calls `process.exit`.
 */

import { publishUrl } from '../client/publish.js';
import type { PollerState, StateDetail } from '../client/poller.js';
import type { Message } from '../protocol.js';
import { USAGE, UsageError, parseChatArgs } from './args.js';
import type { ChatOptions } from './args.js';
import { explainedFetch } from './fetch.js';
import { Outbox } from './outbox.js';
import { openFeed } from './receive.js';
import type { Feed } from './receive.js';
import { MISSED, describeState, formatMessage, notice } from './render.js';
import { Terminal } from './terminal.js';
import type { TerminalStreams } from './terminal.js';

/** How long the end of input waits for queued lines to be accepted. */
const DRAIN_MS = 10_000;
/** Exit codes: 130 is what shells report for a program ended by Ctrl-C. */
const EXIT = { done: 0, failed: 1, usage: 2, interrupted: 130 } as const;
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
 * Ctrl-C; resolves with the exit code (0, 1 when lines were left unsent, 2
 * for bad flags, 130 after Ctrl-C).
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
  return new Promise((resolve) => {
    let ending = false;
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      io.off('SIGINT', interrupt);
      io.off('SIGTERM', interrupt);
      void feed.then((opened) => opened.close(), () => undefined);
      outbox.close();
      terminal.close();
      resolve(code);
    };
    const interrupt = (): void => finish(EXIT.interrupted);
    const terminal = new Terminal({ input: io.stdin, output: io.stdout, errors: io.stderr }, {
      onLine: (line) => {
        if (line !== '' && !ending) outbox.push(options.name ? `${options.name}: ${line}` : line);
      },
      onEnd: () => {
        ending = true;
        void outbox.drain(DRAIN_MS).then((drained) => {
          if (!drained) terminal.tell(notice(`gave up after ${DRAIN_MS / 1000}s: ${outbox.pending} line(s) not sent`));
          finish(drained ? EXIT.done : EXIT.failed);
        });
      },
      onInterrupt: interrupt,
    });
    terminal.tell(notice(`connecting to ${options.base}, channel ${options.channel} (${options.transport})`));
    const outbox = openOutbox(options, terminal);
    const feed = openReceiver(options, terminal);
    feed.catch((error: Error) => {
      terminal.tell(notice(`cannot follow the channel: ${error.message}`));
      finish(EXIT.failed);
    });
    io.once('SIGINT', interrupt);
    io.once('SIGTERM', interrupt);
  });
}

function openOutbox(options: ChatOptions, terminal: Terminal): Outbox {
  return new Outbox({
    url: publishUrl(options.base, options.channel),
    token: options.token,
    fetch: explainedFetch,
    onRefused: (text, problem) => terminal.tell(notice(`not sent: ${problem}: ${preview(text)}`)),
    onRetry: (_text, problem, delay) => terminal.tell(notice(`sending again in ${Math.ceil(delay / 1000)}s: ${problem}`)),
  });
}

function openReceiver(options: ChatOptions, terminal: Terminal): Promise<Feed> {
  let last = '';
  // A feed that keeps failing the same way would repeat its line at every retry.
  const onState = (state: PollerState, detail: StateDetail): void => {
    const line = describeState(state, detail, Date.now());
    if (line === null || line === last) return;
    last = line;
    terminal.tell(notice(line));
  };
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
