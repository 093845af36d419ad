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
  /** Both ends are a terminal and the input is open: prompt, redraws and wiping apply. */
  #prompting: boolean;
  #closed = false;

  constructor(streams: TerminalStreams, events: TerminalEvents) {
    this.#streams = streams;
    const interactive = Boolean(streams.input.isTTY && streams.output.isTTY);
    this.#prompting = interactive;
    this.#rl = createInterface({
      input: streams.input,
      output: interactive ? streams.output : undefined,
      terminal: interactive,
      prompt: PROMPT,
    });
    this.#rl.on('line', (line) => {
      this.#wipeEntered(line);
      events.onLine(line);
    });
    // `close` also follows our own close(): only an input that ended by itself counts.
    this.#rl.on('close', () => {
      if (this.#closed) return;
      this.#stopPrompting();
      events.onEnd();
    });
    this.#rl.on('SIGINT', () => events.onInterrupt());
    if (this.#prompting) this.#rl.prompt();
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
    this.#stopPrompting();
    this.#rl.close();
  }

  #above(stream: Writable, lines: readonly string[]): void {
    if (this.#closed) return;
    if (this.#prompting) this.#clearInput();
    stream.write(lines.map((line) => `${line}\n`).join(''));
    // `true`: the cursor stays where it was within what is typed.
    if (this.#prompting) this.#rl.prompt(true);
  }

  /** The input is over (or never was a terminal): the prompt goes, and lines print plainly from now on. */
  #stopPrompting(): void {
    if (this.#prompting) this.#clearInput();
    this.#prompting = false;
  }

  /** Moves to the start of the prompt and clears it and whatever is typed, over as many rows as they wrap. */
  #clearInput(): void {
    const output = this.#streams.output;
    moveCursor(output, 0, -this.#rl.getCursorPos().rows);
    cursorTo(output, 0);
    clearScreenDown(output);
  }

  // readline has echoed the line and moved below it; it comes back as a message, so it goes.
  // Code points stand in for display columns: a wrapping line of wide characters may leave a row.
  #wipeEntered(line: string): void {
    if (!this.#prompting) return;
    const output = this.#streams.output;
    const width = PROMPT.length + [...line].length;
    moveCursor(output, 0, -(Math.floor(width / (output.columns || 80)) + 1));
    cursorTo(output, 0);
    clearScreenDown(output);
    this.#rl.prompt();
  }
}
