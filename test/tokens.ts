import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { forkServer } from './fixtures/server.js';
import { rawExchange, request } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { mint, SECRET } from './fixtures/tokens.js';

/*
 * The token battery: every transport refuses the same forged, expired and
 * misdirected tokens with the same answer, and grants by channel pattern,
 * on both hubs.
 */

const ISSUER = 'https://auth.example';
const AUDIENCE = 'pollcast';

/** One way of subscribing or publishing, reduced to its status and error code. */
type Transport = (
  origin: string,
  channel: string,
  token: string | undefined,
) => Promise<{ status: number; code: string | undefined; authenticate: string | undefined }>;

function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

function query(token: string | undefined, since = true): string {
  const parts = [...(since ? ['since=0'] : []), ...(token === undefined ? [] : [`access_token=${encodeURIComponent(token)}`])];
  return parts.length ? `?${parts.join('&')}` : '';
}

const answerOf = (answer: { status: number; headers: Record<string, string | string[] | undefined> }) => ({
  status: answer.status,
  code: answer.headers['pollcast-error'] as string | undefined,
  authenticate: answer.headers['www-authenticate'] as string | undefined,
});

const TRANSPORTS: Record<string, Transport> = {
  'long poll': async (origin, channel, token) =>
    answerOf(await request(origin, `/subscribe/${channel}?since=0`, { headers: { accept: 'application/json', ...bearer(token) } })),
  '/messages': async (origin, channel, token) => answerOf(await request(origin, `/messages/${channel}${query(token)}`)),
  '/events': async (origin, channel, token) => {
    const controller = new AbortController();
    const response = await fetch(`${origin}/events/${channel}${query(token)}`, { signal: controller.signal });
    const result = {
      status: response.status,
      code: response.headers.get('pollcast-error') ?? undefined,
      authenticate: response.headers.get('www-authenticate') ?? undefined,
    };
    controller.abort();
    await response.body?.cancel().catch(() => undefined);
    return result;
  },
  '/ws': async (origin, channel, token) => {
    const raw = await rawExchange(
      origin,
      `GET /ws/${channel}${query(token, false)} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      300,
    );
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1]);
    return { status, code: /pollcast-error: (\S+)/.exec(raw)?.[1], authenticate: /www-authenticate: ([^\r]+)/.exec(raw)?.[1] };
  },
  '/publish': async (origin, channel, token) =>
    answerOf(await request(origin, `/publish/${channel}`, { method: 'POST', body: 'hello', headers: bearer(token) })),
  '/presence': async (origin, channel, token) => answerOf(await request(origin, `/presence/${channel}`, { headers: bearer(token) })),
};

/** What each transport answers when let in. */
const OK: Record<string, number> = { 'long poll': 200, '/messages': 200, '/events': 200, '/ws': 101, '/publish': 200, '/presence': 200 };

async function keyFile(): Promise<{ file: string; privateKey: CryptoKey }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const file = join(mkdtempSync(join(tmpdir(), 'pollcast-jwt-')), 'public.pem');
  writeFileSync(file, await exportSPKI(publicKey));
  return { file, privateKey };
}

async function battery(t: Test, redis: boolean): Promise<void> {
  const { file, privateKey } = await keyFile();
  const args = ['--jwt-secret', SECRET, '--jwt-public-key', file, '--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE];
  if (redis) args.push('--redis', `redis://127.0.0.1:${(await startRedis(t)).port}`);
  const { origin } = await forkServer(t, args);
  const good = { issuer: ISSUER, audience: AUDIENCE, sub: 'u1', name: 'Azin' };
  const both = (patterns: string[]) => ({ ...good, subscribe: patterns, publish: patterns });
  const valid = await mint(both(['room']));
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), pollcast: { subscribe: ['*'], publish: ['*'] } })).toString('base64url')}.${signature}`;
  const pem = await exportSPKI((await generateKeyPair('RS256', { extractable: true })).publicKey);

  const refused: [string, string | undefined, string, string][] = [
    ['no token', undefined, 'unauthorized', 'a valid bearer token is required'],
    [
      'alg none',
      new UnsecuredJWT({ pollcast: { subscribe: ['*'], publish: ['*'] }, iss: ISSUER, aud: AUDIENCE }).encode(),
      'invalid_token',
      'token',
    ],
    [
      'HS256 signed with a public key as its secret',
      await new SignJWT({ pollcast: { subscribe: ['*'], publish: ['*'] } })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .sign(new TextEncoder().encode(pem)),
      'invalid_token',
      'token signature is invalid',
    ],
    ['a tampered payload', tampered, 'invalid_token', 'token signature is invalid'],
    ['exp in the past', await mint({ ...both(['*']), expiresIn: -60 }), 'invalid_token', 'token expired'],
    ['nbf in the future', await mint({ ...both(['*']), notBeforeIn: 600 }), 'invalid_token', 'token is not valid yet'],
    ['a wrong iss', await mint({ ...both(['*']), issuer: 'https://evil.example' }), 'invalid_token', 'token issuer is not accepted'],
    ['a wrong aud', await mint({ ...both(['*']), audience: 'other' }), 'invalid_token', 'token audience is not accepted'],
    ['garbage', 'not-a-token', 'invalid_token', 'token is malformed'],
  ];
  const cases: [string, string, string, number][] = [
    ['exact name', await mint(both(['room'])), 'room', 0],
    ['exact name, another channel', await mint(both(['room'])), 'room-1', 403],
    ['prefix', await mint(both(['room-*'])), 'room-7', 0],
    ['prefix needs what it names', await mint(both(['room-*'])), 'room', 403],
    ['a name that merely starts like the pattern', await mint(both(['room-*'])), 'roomy', 403],
    ['star alone', await mint(both(['*'])), 'anything', 0],
    ['RS256 with the public key', await mint(both(['room']), privateKey, 'RS256'), 'room', 0],
    ['a token for another channel', await mint(both(['lobby'])), 'room', 403],
  ];

  for (const [transport, attempt] of Object.entries(TRANSPORTS)) {
    await t.test(transport, async (t) => {
      for (const [label, token, code, reason] of refused) {
        const answer = await attempt(origin, 'room', token);
        t.equal(answer.status, 401, `${label}: 401`);
        t.equal(answer.code, code, `${label}: ${code}`);
        if (code === 'invalid_token')
          t.match(answer.authenticate, `error="invalid_token", error_description="${reason}`, `${label}: says why`);
      }
      for (const [label, token, channel, status] of cases) {
        const answer = await attempt(origin, channel, token);
        t.equal(answer.status, status || OK[transport], `${label} (${channel})`);
        if (status === 403) t.equal(answer.code, 'forbidden', `${label}: forbidden`);
      }
      const readOnly = await mint({ ...good, subscribe: ['room'] });
      const expected = transport === '/publish' ? 403 : OK[transport];
      t.equal((await attempt(origin, 'room', readOnly)).status, expected, 'subscribe and publish are separate rights');
    });
  }

  await t.test('publish frames over a WebSocket need the publish right on its channel', async (t) => {
    const reader = await mint({ ...good, subscribe: ['room'] });
    const writer = await mint({ ...good, sub: 'u2', name: 'Bo', publish: ['room'] });
    const frames: Record<string, unknown>[] = [];
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws/room?access_token=${reader}`);
    t.teardown(() => ws.terminate());
    ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const next = async (type: string): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 500; i++) {
        const at = frames.findIndex((frame) => frame.type === type || frame.type === 'error');
        if (at >= 0) return frames.splice(at, 1)[0]!;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no ${type} frame`);
    };
    ws.send(JSON.stringify({ type: 'publish', text: 'refused' }));
    t.match(await next('published'), { type: 'error', code: 'forbidden' }, 'a valid token without the publish right: forbidden');
    ws.send(JSON.stringify({ type: 'auth', token: await mint({ ...good, publish: ['lobby'] }) }));
    t.match(await next('authorized'), { type: 'error', code: 'forbidden' }, 'an auth frame for another channel adds nothing');
    ws.send(JSON.stringify({ type: 'auth', token: 'x.y.z' }));
    t.match(await next('authorized'), { type: 'error', code: 'invalid_token' }, 'a forged auth frame is refused');
    ws.send(JSON.stringify({ type: 'auth', token: writer }));
    t.match(await next('authorized'), { type: 'authorized', publish: true });
    ws.send(JSON.stringify({ type: 'publish', text: 'signed', name: 'Mallory' }));
    t.match(await next('published'), { type: 'published' });
    t.same(
      (await next('message')).from,
      { id: 'u2', name: 'Bo', verified: true },
      "the author is the token's, not the name the frame claims",
    );
  });
}

t.test('in memory', (t) => battery(t, false));
t.test('on Redis', (t) => battery(t, true));

t.test('static tokens keep working beside signed ones, each for its own right', async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET, '--subscribe-token', 'reader']);
  t.equal((await request(origin, '/messages/any?access_token=reader')).status, 200, 'the static subscribe token reads every channel');
  const publish = await request(origin, '/publish/any', { method: 'POST', body: 'x', headers: { authorization: 'Bearer reader' } });
  t.same(
    [publish.status, publish.headers['pollcast-error']],
    [401, 'unauthorized'],
    'and does not publish; it is no malformed signed token either',
  );
  const writer = await mint({ publish: ['any'] });
  t.equal(
    (await request(origin, '/publish/any', { method: 'POST', body: 'x', headers: { authorization: `Bearer ${writer}` } })).status,
    200,
    'a signed token publishes where it may',
  );
});
