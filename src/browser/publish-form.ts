/**
 * The sending half of the page. Texts are published one at a time, in the
 * order they were submitted; a text stays in the input until the server has
 * accepted it, and a retry of the same text reuses its `Idempotency-Key`, so
 * neither a double submit nor a lost answer publishes it twice.
 */

import type { Published } from '../protocol.js';
import { publishOnce, publishUrl, uuid } from '../client/publish.js';
import type { PublishFetch, PublishOutcome } from '../client/publish.js';

export type { PublishFetch } from '../client/publish.js';

export interface PublishFormOptions {
  /** Server root the paths hang off. Default `'.'` (the page's directory). */
  base?: string;
  /** Channel to publish to. Default `'default'` (the bare `/publish`). */
  channel?: string;
  /** Bearer token (or a function giving the current one, asked at each send), for a server that wants one. Default none. */
  token?: string | (() => string | undefined);
  /** The display name to publish under, asked at each send (an open server's `Pollcast-Name`). Default none. */
  name?: () => string | undefined;
  /** Where progress and errors are written. Default: a new `<p role="status">` at the end of the form. */
  status?: HTMLElement;
  /** How long to wait for an answer before calling it a failure, in ms. Default 15000. */
  timeout?: number;
  /** Called after the server accepted a text. */
  onPublished?: (published: Published, text: string) => void;
  /** Default `globalThis.fetch`. */
  fetch?: PublishFetch;
}

interface Entry {
  readonly text: string;
  /** Made once per text, so that retries of it are recognisable as one publish. */
  readonly key: string;
  /** Where it goes: the room shown when it was submitted, whichever is shown when it is sent. */
  readonly url: string;
}

/**
 * Publishes what is typed into `form.message` when the form is submitted.
 *
 * @example
 * new PublishForm(document.forms.namedItem('publish'), { channel: 'news' });
 */
export class PublishForm {
  #form: HTMLFormElement;
  #input: HTMLInputElement | HTMLTextAreaElement;
  #button: HTMLButtonElement | HTMLInputElement | null;
  #status: HTMLElement;
  #url: string;
  readonly #base: string;
  #timeout: number;
  #token: () => string | undefined;
  #name: () => string | undefined;
  #fetch: PublishFetch;
  #onPublished: PublishFormOptions['onPublished'];
  /** Submitted texts not yet accepted; the first is the one being sent (or that failed). */
  #queue: Entry[] = [];
  #sending = false;
  #controller: AbortController | null = null;

  constructor(form: HTMLFormElement, options: PublishFormOptions = {}) {
    const input = form.elements.namedItem('message');
    if (!(input instanceof HTMLInputElement || input instanceof HTMLTextAreaElement)) {
      throw new TypeError('the form needs a text field named "message"');
    }
    const url = publishUrl(options.base ?? '.', options.channel);
    this.#base = options.base ?? '.';
    const timeout = options.timeout ?? 15_000;
    if (!(timeout > 0)) throw new RangeError('timeout must be a positive number of ms');
    const fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);

    this.#url = url;
    this.#form = form;
    this.#input = input;
    this.#button = form.querySelector<HTMLButtonElement | HTMLInputElement>('button:not([type]), button[type=submit], input[type=submit]');
    this.#status = options.status ?? defaultStatus(form);
    this.#timeout = timeout;
    const token = options.token;
    this.#token = typeof token === 'function' ? token : () => token;
    this.#name = options.name ?? (() => undefined);
    this.#fetch = fetcher;
    this.#onPublished = options.onPublished;

    form.addEventListener('submit', this.#onSubmit);
    input.addEventListener('input', this.#onInput);
    if (input instanceof HTMLTextAreaElement) input.addEventListener('keydown', this.#onKeyDown);
  }

  /** Publishes what is submitted from now on to `channel` (a page with several rooms switching); texts already queued keep theirs. */
  set channel(channel: string) {
    this.#url = publishUrl(this.#base, channel);
  }

  /** Stops listening and abandons the send in flight; texts not yet sent stay in the input. Idempotent. */
  close(): void {
    this.#form.removeEventListener('submit', this.#onSubmit);
    this.#input.removeEventListener('input', this.#onInput);
    if (this.#input instanceof HTMLTextAreaElement) this.#input.removeEventListener('keydown', this.#onKeyDown);
    this.#queue.length = 0;
    this.#controller?.abort();
  }

  #onSubmit = (event: SubmitEvent): void => {
    event.preventDefault();
    const text = this.#input.value;
    // A text already waiting is the same message submitted twice: one publish only.
    if (text !== '' && !this.#queue.some((entry) => entry.text === text)) {
      this.#queue.push({ text, key: uuid(), url: this.#url });
    }
    // Submitting also resumes a queue stopped by a failure, with the failed text first.
    void this.#pump();
  };

  #onInput = (): void => this.#render('');

  // A textarea takes Enter as a new line; Shift+Enter keeps that, Enter alone sends.
  #onKeyDown = (event: KeyboardEvent): void => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.#form.requestSubmit();
    }
  };

  async #pump(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    let problem = '';
    try {
      for (let entry = this.#queue[0]; entry; entry = this.#queue[0]) {
        this.#render('');
        const outcome = await this.#send(entry);
        if (this.#queue[0] !== entry) break; // closed meanwhile
        if (outcome.ok) {
          this.#queue.shift();
          if (this.#input.value === entry.text) this.#input.value = '';
          if (outcome.published) this.#onPublished?.(outcome.published, entry.text);
          continue;
        }
        // Stop at the first failure: sending the next ones would publish them out of order.
        if (outcome.final) {
          this.#queue.shift();
          if (this.#input.value === '') this.#input.value = entry.text;
          problem = `Not sent: ${outcome.problem}`;
        } else {
          problem = `Not sent: ${outcome.problem}. Press Send to try again.`;
        }
        break;
      }
    } finally {
      this.#sending = false;
      this.#render(problem);
    }
  }

  async #send(entry: Entry): Promise<PublishOutcome> {
    const controller = new AbortController();
    this.#controller = controller;
    try {
      return await publishOnce({
        url: entry.url,
        text: entry.text,
        key: entry.key,
        token: this.#token(),
        name: this.#name(),
        timeout: this.#timeout,
        fetch: this.#fetch,
        signal: controller.signal,
      });
    } finally {
      if (this.#controller === controller) this.#controller = null;
    }
  }

  #render(problem: string): void {
    const head = this.#queue[0];
    const waiting = this.#queue.length - (this.#sending ? 1 : 0);
    // Disabled while the very text in the input is on its way, so Enter cannot send it twice.
    if (this.#button) this.#button.disabled = this.#sending && head?.text === this.#input.value;
    this.#form.setAttribute('aria-busy', String(this.#sending));
    let text = problem;
    if (!text && this.#sending) text = waiting > 0 ? `Sending… (${waiting} more waiting)` : 'Sending…';
    if (!text && !this.#sending && this.#queue.length > 0) {
      text = `${this.#queue.length} not sent yet. Press Send to try again.`;
    }
    // Rewriting the same text would make screen readers announce it again.
    if (this.#status.textContent !== text) this.#status.textContent = text;
    this.#status.dataset.kind = problem ? 'error' : this.#sending ? 'pending' : '';
  }
}

function defaultStatus(form: HTMLFormElement): HTMLElement {
  const status = document.createElement('p');
  status.className = 'publish-status';
  status.setAttribute('role', 'status');
  form.append(status);
  return status;
}
