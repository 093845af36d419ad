/**
 * The end of this turn of the event loop: work put off until every socket
 * that was ready has been read, so that what those reads brought is handled
 * together. The in-memory hub wakes a channel's waiters there, once, with
 * every message published to it in the turn; the streams write there, once,
 * everything handed to them. One `setImmediate` runs them all, in the order
 * they were asked for; work asked for while they run (a stream woken by the
 * hub) runs in the same go, not a turn later.
 */
const tasks: (() => void)[] = [];
let scheduled = false;

function runAll(): void {
  // Not a for-of over a copy: tasks added while running are run too.
  for (let i = 0; i < tasks.length; i++) tasks[i]!();
  tasks.length = 0;
  scheduled = false;
}

/** Runs `task` at the end of this turn. */
export function atTurnEnd(task: () => void): void {
  tasks.push(task);
  if (scheduled) return;
  scheduled = true;
  setImmediate(runAll);
}
