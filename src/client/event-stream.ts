/**
 * A parser of `text/event-stream` (WHATWG HTML, "Server-sent events",
 * §9.2.6 "Interpreting an event stream"), pure and DOM-free, so that the
 * event-stream feed can read `/events` over `fetch` in browsers and in Node
 * alike. Bytes go in as they arrive, split anywhere; events come out.
 */

/** One dispatched event. */
export interface StreamEvent {
  /** The `event:` field, or `'message'`. */
  readonly type: string;
  /** The `data:` fields joined with `\n`. */
  readonly data: string;
  /** The last `id:` seen up to this event (ids carry over from event to event). */
  readonly lastEventId: string;
  /** pollcast's `time:` field of this event (ms since the epoch), or `NaN` without one. */
  readonly time: number;
  /** pollcast's `from:` field of this event (the author as JSON), or `''` without one. */
  readonly from: string;
}

const LF = 10;
const CR = 13;

/**
 * @example
 * const parser = new EventStreamParser((event) => console.log(event.type, event.data));
 * parser.push(new TextEncoder().encode('data: hi\n\n'));
 */
export class EventStreamParser {
  // [spec] the stream is UTF-8, and a leading BOM is dropped (TextDecoder's default); `stream: true` keeps a character split across chunks.
  readonly #decoder = new TextDecoder('utf-8');
  readonly #onEvent: (event: StreamEvent) => void;
  readonly #onRetry: ((ms: number) => void) | undefined;
  /** The start of a line whose end has not arrived yet. */
  #partial = '';
  /** The last chunk ended in CR: an LF at the start of the next one belongs to it. */
  #afterCR = false;
  #data = '';
  #type = '';
  #idBuffer = '';
  #time = Number.NaN;
  #from = '';
  #lastEventId = '';

  /** `onRetry` hears each valid `retry:` field, in ms. */
  constructor(onEvent: (event: StreamEvent) => void, onRetry?: (ms: number) => void) {
    this.#onEvent = onEvent;
    this.#onRetry = onRetry;
  }

  /** The last event ID string: the `id:` in force at the last blank line (set even by events without data). */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Feeds the next bytes of the stream. */
  push(bytes: Uint8Array): void {
    this.#lines(this.#decoder.decode(bytes, { stream: true }));
  }

  #lines(text: string): void {
    if (text === '') return;
    let start = this.#afterCR && text.charCodeAt(0) === LF ? 1 : 0;
    this.#afterCR = false;
    for (let i = start; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== LF && code !== CR) continue;
      // [spec] CRLF, LF and CR each end a line.
      const line = this.#partial + text.slice(start, i);
      this.#partial = '';
      if (code === CR) {
        if (i + 1 === text.length) this.#afterCR = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
      this.#line(line);
    }
    this.#partial += text.slice(start);
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return; // [spec] a comment
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (name) {
      case 'event':
        this.#type = value;
        break;
      case 'data':
        this.#data += `${value}\n`;
        break;
      case 'id':
        // [spec] an id with a NUL is ignored.
        if (!value.includes('\0')) this.#idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.#onRetry?.(Number(value));
        break;
      case 'time':
        // Not in the spec, which has other fields ignored: pollcast's publish time, which an EventSource ignores.
        if (/^[0-9]{1,15}$/.test(value)) this.#time = Number(value);
        break;
      case 'from':
        // pollcast's own too: the author, as JSON.
        this.#from = value;
        break;
      default:
      // [spec] other fields are ignored.
    }
  }

  #dispatch(): void {
    this.#lastEventId = this.#idBuffer;
    const data = this.#data;
    const type = this.#type;
    const time = this.#time;
    const from = this.#from;
    this.#data = '';
    this.#type = '';
    this.#time = Number.NaN;
    this.#from = '';
    // [spec] an event without data is not dispatched (its id still counts).
    if (data === '') return;
    this.#onEvent({ type: type || 'message', data: data.slice(0, -1), lastEventId: this.#lastEventId, time, from });
  }
}
