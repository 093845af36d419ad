/**
 * The ids of the most recent messages, to drop repeats: a retried poll, a
 * second tab's copy, a history that overlaps what was already shown.
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #limit: number;

  /** @param limit how many ids are remembered; the oldest are forgotten first. Default 1024. */
  constructor(limit = 1024) {
    this.#limit = limit;
  }

  /** Records `id`; false when it was already there. */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#limit) this.#ids.delete(this.#ids.values().next().value!);
    return true;
  }
}
