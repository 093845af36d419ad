/**
 * What the chat prints, as pure functions of what happened: a message as
 * `[HH:MM:SS] text`, and the notices (state changes, `missed`, errors).
 * Every text that came over the wire is neutralised here, so a message can
 * neither move the cursor, rewrite the prompt nor recolour the terminal.
 */

import type { Message } from '../protocol.js';
import type { FeedState, StateDetail } from '../client/reconnect.js';

/**
 * C0 controls but LF, DEL, C1 controls (0x9b alone is a CSI to many
 * terminals), and the bidirectional overrides and isolates that reorder
 * what follows them on screen.
 */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAK = /\r\n|\r|\n/;
/** `[HH:MM:SS] `: continuation lines of a message are indented by as much. */
const INDENT = ' '.repeat('[00:00:00] '.length);
/** Marks a notice, so that it cannot pass for a message when both go to one screen. */
const NOTICE = '-- ';

/**
 * Replaces every control character with a visible stand-in: C0 controls by
 * their Unicode control pictures (ESC shows as `␛`), DEL as `␡`, a tab as a
 * space, the rest as `�`. Line breaks count as controls too: split first.
 *
 * @example
 * neutralise('\x1b[2Jhi') // '␛[2Jhi'
 */
export function neutralise(text: string): string {
  return text.replace(CONTROL, standIn);
}

function standIn(char: string): string {
  const code = char.charCodeAt(0);
  if (code === 0x09) return ' ';
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return '\ufffd';
}

/**
 * `HH:MM:SS` of a time in ms since the epoch, in the local time zone;
 * `--:--:--` for none (an event stream from a server that sends no `time:`
 * field; the time of arrival would misdate the history).
 */
export function clock(time: number): string {
  if (!Number.isFinite(time)) return '--:--:--';
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

/**
 * A message as the lines to print: `[HH:MM:SS] author: first line` (no
 * author when it has no `from`), then each further line of a multi-line
 * text indented under it.
 *
 * @example
 * formatMessage({ id: '1', text: 'hi\nthere', time, from: { name: 'Azin', verified: true } }) // ['[12:00:00] Azin: hi', '           there']
 */
export function formatMessage(message: Message): string[] {
  const author = message.from ? `${neutralise(message.from.name)}: ` : '';
  return message.text
    .split(LINE_BREAK)
    .map((line, index) => (index === 0 ? `[${clock(message.time)}] ${author}` : INDENT) + neutralise(line));
}

/**
 * A message of one of several rooms: the room's name after the time,
 * `[HH:MM:SS] #news first line`.
 */
export function formatRoomMessage(channel: string, message: Message): string[] {
  const lines = formatMessage(message);
  lines[0] = lines[0]!.replace('] ', `] #${channel} `);
  return lines;
}

/** A notice line: marked, neutralised and on one line. */
export function notice(text: string): string {
  return NOTICE + neutralise(text.split(LINE_BREAK).join(' '));
}

/**
 * The notice for a state change of the feed, or `null` for none (`closed`
 * is the session's own doing).
 *
 * @example
 * describeState('reconnecting', { retryAt: now + 2000, error: { status: 503, reason: 'shutting down' } }, now)
 * // 'reconnecting in 2s: 503 shutting down'
 */
export function describeState(state: FeedState, detail: StateDetail, now: number): string | null {
  if (state === 'closed') return null;
  if (state !== 'reconnecting') return state;
  const seconds = Math.max(0, Math.ceil(((detail.retryAt ?? now) - now) / 1000));
  const error = detail.error;
  const reason = error ? [error.status, error.reason].filter((part) => part !== null).join(' ') : '';
  return `reconnecting in ${seconds}s${reason ? `: ${reason}` : ''}`;
}

/** What `missed` means to a reader of the conversation. */
export const MISSED = 'missed: some messages are no longer available (the history moved on, or the server restarted)';
