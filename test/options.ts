import t from 'tap';
import { DEFAULTS, resolveOptions } from '../src/options.js';

t.test('defaults', async (t) => {
  const options = resolveOptions();
  t.same(options, DEFAULTS);
  t.equal(options.port, 8080);
  t.equal(options.host, '127.0.0.1');
  t.equal(options.historyLimit, 1000);
  t.equal(options.pollTimeoutMs, 25_000);
  t.equal(options.maxBodyBytes, 65_536);
  t.match(options.publicDir, /public$/);
});

t.test('overrides are merged, undefined keeps the default', async (t) => {
  const options = resolveOptions({ port: 0, pollTimeoutMs: 500, historyLimit: undefined });
  t.equal(options.port, 0);
  t.equal(options.pollTimeoutMs, 500);
  t.equal(options.historyLimit, 1000);
});

t.test('bad values are rejected when the server is created', async (t) => {
  t.throws(() => resolveOptions({ port: 70_000 }), /port must be a whole number from 0 to 65535/);
  t.throws(() => resolveOptions({ port: -1 }), RangeError);
  t.throws(() => resolveOptions({ pollTimeoutMs: 1.5 }), /pollTimeoutMs/);
  t.throws(() => resolveOptions({ maxBodyBytes: 0 }), /maxBodyBytes/);
  t.throws(() => resolveOptions({ historyLimit: Number.NaN }), /historyLimit/);
  t.throws(() => resolveOptions({ host: '' }), /host must be a non-empty string/);
  t.throws(() => resolveOptions({ nonsense: 1 } as never), /unknown option "nonsense"/);
  t.throws(() => resolveOptions({ writeTimeoutMs: 10 }), /writeTimeoutMs/);
  t.throws(
    () => resolveOptions({ outboundBytes: 1024 * 1024, streamBufferBytes: 2 * 1024 * 1024 }),
    /streamBufferBytes must not exceed outboundBytes/,
  );
});

t.test('redisUrl: a redis:// or rediss:// URL with a host, checked at creation', async (t) => {
  for (const url of ['redis://127.0.0.1:6379', 'rediss://user:secret@cache.example:6380/2', 'redis://localhost']) {
    t.equal(resolveOptions({ redisUrl: url }).redisUrl, url, url);
  }
  for (const url of ['http://127.0.0.1:6379', 'redis://', 'redis://host/db', 'redis://host/123', '127.0.0.1:6379']) {
    t.throws(() => resolveOptions({ redisUrl: url }), TypeError, url);
  }
  t.equal(resolveOptions().redisUrl, '', 'none by default: in memory');
});
