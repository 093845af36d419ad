import type { Hub } from './hub.js';
import type { PollcastOptions } from './options.js';

/** What every route may read: the hub, the options, and whether the server is closing. */
export interface Context {
  readonly hub: Hub;
  readonly options: PollcastOptions;
  closing: boolean;
}
