/**
 * A subscriber process of the bench (subscribers.ts), driven over IPC: started with its share of
 * the subscribers, asked for its counts, stopped for its results, killed if it does not go.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FromSubscribers, Status, SubscriberResult, ToSubscribers } from './wire.js';

const SUBSCRIBER_SCRIPT = fileURLToPath(new URL('./subscribers.js', import.meta.url));

/**
 * The subscriber processes' niceness. With two cores, the subscriber processes, the publisher (the
 * bench's own process) and the server contend for them. At equal priority the publisher was at
 * times starved: A's long poll then settled in a state of its own, ~100 publishes/s and ~8
 * messages per answer (server CPU 9.4 µs per delivery, its profile 31 % idle), against ~500 and
 * ~42 (1.6 µs) in the next repetition. A lower priority for the subscribers alone lets the
 * publisher publish at the rate the server takes, and the server use what it needs; every target
 * is measured the same way.
 */
const SUBSCRIBER_NICE = 5;

/** One subscriber process. */
export class Generator {
  readonly child: ChildProcess;
  private readonly waiters: ((message: FromSubscribers) => boolean)[] = [];
  private exited = false;

  constructor() {
    this.child = fork(SUBSCRIBER_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // Yields to the server and the publisher when cores are short: see SUBSCRIBER_NICE.
    if (this.child.pid !== undefined) setPriority(this.child.pid, SUBSCRIBER_NICE);
    this.child.on('message', (message: FromSubscribers) => {
      const index = this.waiters.findIndex((accept) => accept(message));
      if (index >= 0) this.waiters.splice(index, 1);
    });
    this.child.once('exit', () => {
      this.exited = true;
    });
  }

  send(message: ToSubscribers): void {
    if (this.child.connected) this.child.send(message);
  }

  /** The next message of the given type, or undefined after `ms`. */
  next<T extends FromSubscribers['type']>(type: T, ms: number): Promise<Extract<FromSubscribers, { type: T }> | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      this.waiters.push((message) => {
        if (message.type !== type) return false;
        clearTimeout(timer);
        resolve(message as Extract<FromSubscribers, { type: T }>);
        return true;
      });
    });
  }

  async status(seq: number): Promise<Status | undefined> {
    const answer = this.next('status', 5_000);
    this.send({ type: 'status', seq });
    return answer;
  }

  async finish(rank: number[]): Promise<SubscriberResult | undefined> {
    const answer = this.next('result', 20_000);
    this.send({ type: 'stop', rank });
    const result = await answer;
    await this.kill();
    return result;
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const late = await Promise.race([gone.then(() => false), sleep(3_000).then(() => true)]);
    if (late && !this.exited && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
  }
}
