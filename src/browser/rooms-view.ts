/**
 * The list of the rooms joined, on the page: a button per room to show it
 * (the one shown is `aria-current`), its unread count, and a button to leave
 * it. Thin DOM; it decides nothing, it tells `onShow` and `onLeave`.
 */

/** What the list reports. */
export interface RoomsViewOptions {
  /** The reader picked a room to show. */
  onShow: (room: string) => void;
  /** The reader asked to leave a room. */
  onLeave: (room: string) => void;
}

/**
 * Draws `<li>`s into `elem` (a `<ul>`), one per room, in the order added.
 *
 * @example
 * const view = new RoomsView(document.getElementById('rooms'), { onShow: show, onLeave: leave });
 * view.add('news'); view.current = 'news'; view.unread('sport', 3);
 */
export class RoomsView {
  readonly #elem: HTMLElement;
  readonly #options: RoomsViewOptions;
  readonly #items = new Map<string, HTMLLIElement>();

  constructor(elem: HTMLElement, options: RoomsViewOptions) {
    this.#elem = elem;
    this.#options = options;
    elem.addEventListener('click', this.#onClick);
  }

  add(room: string): void {
    if (this.#items.has(room)) return;
    const item = document.createElement('li');
    item.className = 'room';
    item.dataset.room = room;
    const show = document.createElement('button');
    show.type = 'button';
    show.className = 'room-show';
    show.dataset.action = 'show';
    const name = document.createElement('span');
    name.className = 'room-name';
    name.textContent = `#${room}`;
    const count = document.createElement('span');
    count.className = 'room-unread';
    count.hidden = true;
    count.setAttribute('aria-hidden', 'true');
    const said = document.createElement('span');
    said.className = 'visually-hidden room-unread-said';
    show.append(name, count, said);
    const leave = document.createElement('button');
    leave.type = 'button';
    leave.className = 'room-leave';
    leave.dataset.action = 'leave';
    leave.setAttribute('aria-label', `Leave #${room}`);
    leave.title = `Leave #${room}`;
    leave.textContent = '×';
    item.append(show, leave);
    this.#items.set(room, item);
    this.#elem.append(item);
    this.#leavable();
  }

  remove(room: string): void {
    this.#items.get(room)?.remove();
    this.#items.delete(room);
    this.#leavable();
  }

  /** Marks `room` as the one shown. */
  set current(room: string) {
    for (const [name, item] of this.#items) {
      const button = item.querySelector('.room-show')!;
      if (name === room) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  /** Shows `count` unread in `room` (nothing for 0); said in words for a screen reader. */
  unread(room: string, count: number): void {
    const item = this.#items.get(room);
    const badge = item?.querySelector<HTMLElement>('.room-unread');
    const said = item?.querySelector<HTMLElement>('.room-unread-said');
    if (!badge || !said) return;
    badge.hidden = count === 0;
    badge.textContent = count === 0 ? '' : count > 99 ? '99+' : String(count);
    said.textContent = count === 0 ? '' : `, ${count} unread`;
  }

  /** Moves the focus to `room`'s button (after leaving the room that had it). */
  focus(room: string): void {
    this.#items.get(room)?.querySelector<HTMLElement>('.room-show')?.focus();
  }

  // The last room cannot be left: the page always shows one.
  #leavable(): void {
    const only = this.#items.size === 1;
    for (const item of this.#items.values()) item.querySelector<HTMLButtonElement>('.room-leave')!.disabled = only;
  }

  #onClick = (event: Event): void => {
    const button = event.target instanceof Element ? event.target.closest<HTMLElement>('button[data-action]') : null;
    const room = button?.closest<HTMLElement>('li.room')?.dataset.room;
    if (!button || room === undefined) return;
    if (button.dataset.action === 'show') this.#options.onShow(room);
    else this.#options.onLeave(room);
  };
}
