/**
 * Structured logs: one JSON line per event on stdout (pino), at `--log-level`.
 * Events: `start`, `listen`, each shutdown step, Redis up/down, limits hit,
 * unexpected errors.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger } from 'pino';

/** The levels `--log-level` takes, most to least severe; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A logger writing JSON lines to `destination` (default stdout, written
 * synchronously so the last shutdown lines are out before the process exits).
 */
export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino({ level, base: { name: 'pollcast' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** For code given no logger (a hub constructed on its own, an error outside any request): errors and warnings only. */
export const FALLBACK: Logger = pino({ level: 'warn', base: { name: 'pollcast' }, timestamp: pino.stdTimeFunctions.isoTime });

/** A limit hit is logged at most once per code in this period, with how many there were. */
const LIMIT_LOG_PERIOD_MS = 10_000;

/**
 * Logs limits hit (`rate_limited`, `too_many_waiting`, …) without letting a
 * hostile client turn them into a flood of log lines: the first of each code
 * at once, then at most one line per code every 10 s carrying the count.
 */
export class LimitLog {
  readonly #logger: Logger;
  readonly #last = new Map<string, { at: number; count: number }>();
  readonly #now: () => number;

  constructor(logger: Logger, now: () => number = Date.now) {
    this.#logger = logger;
    this.#now = now;
  }

  /** One limit hit with this error code, by this client key. */
  hit(code: string, client: string): void {
    const now = this.#now();
    const last = this.#last.get(code);
    if (last && now - last.at < LIMIT_LOG_PERIOD_MS) {
      last.count++;
      return;
    }
    this.#last.set(code, { at: now, count: 0 });
    this.#logger.warn({ event: 'limit', code, client, since: last ? last.count + 1 : 1 }, `limit hit: ${code}`);
  }
}
