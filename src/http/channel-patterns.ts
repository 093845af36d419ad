/**
 * The channels a token grants a right on: a list of patterns, each an exact
 * channel name (`room-1`), a prefix ending in `*` (`room-*`: every channel
 * whose name starts with `room-`), or `*` alone (every channel).
 */
export interface ChannelPatterns {
  /** Whether the patterns cover `channel`. */
  matches(channel: string): boolean;
  /** Whether they cover no channel at all. */
  readonly empty: boolean;
}

const PATTERN = /^[A-Za-z0-9_-]{0,64}\*?$/;
/** Patterns a token may carry per right: enough for any real grant, bounded for the cache. */
export const MAX_PATTERNS = 64;

/** No channel. */
export const NONE: ChannelPatterns = { matches: () => false, empty: true };
/** Every channel. */
export const ALL: ChannelPatterns = { matches: () => true, empty: false };

/**
 * Compiles a claim's list of patterns; undefined when it is not a list of at
 * most 64 patterns (`[A-Za-z0-9_-]{0,64}` with an optional `*` at the end).
 */
export function compilePatterns(value: unknown): ChannelPatterns | undefined {
  if (value === undefined) return NONE;
  if (!Array.isArray(value) || value.length > MAX_PATTERNS) return undefined;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const pattern of value) {
    if (typeof pattern !== 'string' || pattern === '' || !PATTERN.test(pattern)) return undefined;
    if (pattern === '*') return ALL;
    if (pattern.endsWith('*')) prefixes.push(pattern.slice(0, -1));
    else exact.add(pattern);
  }
  if (exact.size === 0 && prefixes.length === 0) return NONE;
  return {
    matches: (channel) => exact.has(channel) || prefixes.some((prefix) => channel.startsWith(prefix)),
    empty: false,
  };
}
