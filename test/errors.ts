import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  asHttpError,
  ERROR_STATUS,
  HttpError,
  fromHubError,
  STORAGE_UNAVAILABLE,
  SHUTTING_DOWN,
  TOO_MANY_CHANNELS,
} from '../src/http/errors.js';
import { createLogger } from '../src/log.js';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from '../src/hub.js';

const PROTOCOL = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');

/** Codes the protocol reference names by their status alone (`404`, `405`, a bare `500`). */
const BY_STATUS_ONLY = new Set(['internal', 'not_found', 'method_not_allowed']);

t.test('every stable error code is documented in docs/protocol.md, in the row of its status', async (t) => {
  const rows = PROTOCOL.split('\n').filter((line) => line.startsWith('|'));
  for (const [code, status] of Object.entries(ERROR_STATUS)) {
    if (BY_STATUS_ONLY.has(code)) continue;
    t.ok(PROTOCOL.includes(`\`${code}\``), `\`${code}\` is documented`);
    for (const row of rows.filter((line) => line.includes(`(\`${code}\``) || line.includes(` \`${code}\``))) {
      t.ok(row.includes(`\`${status}\``), `\`${code}\` is in a row of \`${status}\`: ${row.slice(0, 60)}`);
    }
  }
});

t.test('hub errors become their answers; anything else is left for the generic 500', async (t) => {
  const cases: [Error, string, number][] = [
    [new InvalidCursorError('x'), 'bad_cursor', 400],
    [new KeyReusedError('x'), 'key_reused', 422],
    [new HubFullError('x'), 'too_many_channels', 503],
    [new HubClosedError('x'), 'shutting_down', 503],
    [new StorageUnavailableError('x'), 'storage_unavailable', 503],
  ];
  for (const [error, code, status] of cases) {
    const answer = fromHubError(error) as HttpError;
    t.same([answer.code, answer.status], [code, status], error.name);
  }
  t.equal(fromHubError(new StorageUnavailableError('x')), STORAGE_UNAVAILABLE);
  t.equal(fromHubError(new HubClosedError('x')), SHUTTING_DOWN);
  t.ok(Number(STORAGE_UNAVAILABLE.headers['retry-after']) > 0, 'storage_unavailable says when to retry');
  const other = new Error('boom');
  t.equal(fromHubError(other), other);
});

t.test('asHttpError: an HttpError is itself, a hub error its answer, anything else a logged bare 500', async (t) => {
  const lines: string[] = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(line) });
  const own = new HttpError('bad_channel', 'x');
  t.equal(asHttpError(own, log), own);
  t.equal(asHttpError(new HubFullError('x'), log), TOO_MANY_CHANNELS);
  t.same(lines, [], 'neither is logged');
  const internal = asHttpError(new Error('secret detail'), log);
  t.same([internal.code, internal.status, internal.message], ['internal', 500, 'internal server error'], 'leaks nothing');
  t.equal(lines.length, 1, 'and is logged');
  t.match(lines[0], /secret detail/);
});
