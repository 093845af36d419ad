/**
 * The chat's screen and keyboard. Messages go to stdout and notices to
 * stderr, so stdout stays the conversation. On a terminal the input line
 * (prompt and what is typed so far) is kept intact: a line that arrives is
 * written above it, and the typed line, once sent, is wiped so that it shows
 * once, as the message the server sends back. On pipes: plain lines, no
 * escape codes, no prompt.
 */

import { clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';
import type { Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface TerminalStreams {
  readonly input: Readable & { isTTY?: boolean };
  readonly output: Writable & { isTTY?: boolean; columns?: number };
  readonly errors: Writable;
}

/** What the terminal reports. */
export interface TerminalEvents {
  /** A line was entered (without its line break). */
  onLine(line: string): void;
  /** The input ended: Ctrl-D on a terminal, end of file on a pipe. */
  onEnd(): void;
  /** Ctrl-C on a terminal. */
  onInterrupt(): void;
}

const PROMPT = '> ';

/**
 * Reads lines and prints lines without tearing the input line apart.
 *
 * @example
 * const terminal = new Terminal(process, { onLine: send, onEnd: flush, onInterrupt: quit });
 * terminal.print(['[12:00:00] hi']);
 */
export class Terminal {
  readonly #streams: TerminalStreams;
  readonly #rl: Interface;
  /** Both ends are a terminal: prompt, redraws and wiping apply. */
  readonly #interactive: boolean;
  #closed = false;

  constructor(streams: TerminalStreams, events: TerminalEvents) {
    this.#streams = streams;
    this.#interactive = Boolean(streams.input.isTTY && streams.output.isTTY);
    this.#rl = createInterface({
      input: streams.input,
      output: this.#interactive ? streams.output : undefined,
      terminal: this.#interactive,
      prompt: PROMPT,
    });
    this.#rl.on('line', (line) => {
      this.#wipeEntered(line);
      events.onLine(line);
    });
    // `close` also follows our own close(): only an input that ended by itself counts.
    this.#rl.on('close', () => {
      if (!this.#closed) events.onEnd();
    });
    this.#rl.on('SIGINT', () => events.onInterrupt());
    if (this.#interactive) this.#rl.prompt();
  }

  /** Writes lines of the conversation to stdout. */
  print(lines: readonly string[]): void {
    this.#above(this.#streams.output, lines);
  }

  /** Writes a notice to stderr. */
  tell(line: string): void {
    this.#above(this.#streams.errors, [line]);
  }

  /** Stops reading; leaves the terminal on a fresh line. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#interactive) this.#clearInput();
    this.#rl.close();
  }

  #above(stream: Writable, lines: readonly string[]): void {
    if (this.#closed && this.#interactive) return;
    if (!this.#interactive) {
      stream.write(lines.map((line) => `${line}\n`).join(''));
      return;
    }
    this.#clearInput();
    stream.write(lines.map((line) => `${line}\n`).join(''));
    // `true`: the cursor stays where it was within what is typed.
    this.#rl.prompt(true);
  }

  /** Moves to the start of the prompt and clears it and whatever is typed, over as many rows as they wrap. */
  #clearInput(): void {
    const output = this.#streams.output;
    moveCursor(output, 0, -this.#rl.getCursorPos().rows);
    cursorTo(output, 0);
    clearScreenDown(output);
  }

  // readline has echoed the line and moved below it; it comes back as a message, so it goes.
  #wipeEntered(line: string): void {
    if (!this.#interactive) return;
    const output = this.#streams.output;
    const width = PROMPT.length + [...line].length;
    moveCursor(output, 0, -(Math.floor(width / (output.columns || 80)) + 1));
    cursorTo(output, 0);
    clearScreenDown(output);
    this.#rl.prompt();
  }
}
