import { fileURLToPath } from 'node:url';

/** Everything that can be configured, each with its default. */
export interface PollcastOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port: number;
  /** Interface to bind. Default `127.0.0.1`, so nothing is exposed by accident. */
  host: string;
  /** Messages kept per channel for clients that resume. Default 1000. */
  historyLimit: number;
  /** How long an idle long poll is held before it answers 204, in ms. Default 25 000 (RFC 6202 §5.5: under common proxy timeouts). */
  pollTimeoutMs: number;
  /** Largest message body accepted, in bytes. Default 65 536 (64 KiB). */
  maxBodyBytes: number;
  /** Folder of the page and its scripts. Default the package's `public/`. */
  publicDir: string;
  /** On shutdown, how long in-flight requests may take before their sockets are cut, in ms. Default 5 000. */
  shutdownGraceMs: number;
}

/** The defaults, in one place. */
export const DEFAULTS: Readonly<PollcastOptions> = Object.freeze({
  port: 8080,
  host: '127.0.0.1',
  historyLimit: 1000,
  pollTimeoutMs: 25_000,
  maxBodyBytes: 64 * 1024,
  publicDir: fileURLToPath(new URL('../public', import.meta.url)),
  shutdownGraceMs: 5_000,
});

/** Whole-number options and the smallest and largest value each may take. */
const RANGES = {
  port: [0, 65_535],
  historyLimit: [1, 10_000_000],
  pollTimeoutMs: [10, 3_600_000],
  maxBodyBytes: [1, 1024 * 1024 * 1024],
  shutdownGraceMs: [0, 600_000],
} as const satisfies Partial<Record<keyof PollcastOptions, readonly [number, number]>>;

/**
 * Merges `overrides` over the defaults and rejects bad values now, so a
 * mistake fails at start-up rather than on some later request.
 */
export function resolveOptions(overrides: Partial<PollcastOptions> = {}): PollcastOptions {
  const options: PollcastOptions = { ...DEFAULTS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in DEFAULTS)) throw new TypeError(`unknown option "${key}"`);
    (options as unknown as Record<string, unknown>)[key] = value;
  }
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const value = options[key as keyof typeof RANGES];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`${key} must be a whole number from ${min} to ${max}, got ${String(value)}`);
    }
  }
  for (const key of ['host', 'publicDir'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new TypeError(`${key} must be a non-empty string`);
  }
  return options;
}
