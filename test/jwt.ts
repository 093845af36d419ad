import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { ALL, compilePatterns, NONE } from '../src/http/channel-patterns.js';
import { Authority } from '../src/http/auth.js';
import { JwtVerifier, TokenRejected } from '../src/http/jwt.js';
import { mint, SECRET } from './fixtures/tokens.js';

const NO_KEYS = { secret: '', publicKey: '', issuer: '', audience: '' };

t.test('channel patterns: exact, prefix*, * alone; anything else is refused', async (t) => {
  const room = compilePatterns(['room', 'team-*'])!;
  t.ok(room.matches('room'));
  t.notOk(room.matches('room-1'), 'an exact name is only itself');
  t.ok(room.matches('team-a'));
  t.ok(room.matches('team-'), 'a prefix covers itself with nothing after');
  t.notOk(room.matches('team'), 'the prefix must be there whole');
  t.notOk(room.matches('teamx'));
  t.equal(compilePatterns(['x', '*']), ALL);
  t.equal(compilePatterns(undefined), NONE);
  t.equal(compilePatterns([]), NONE);
  for (const bad of ['room', [''], ['a*b'], ['**'], ['../x'], [1], Array(65).fill('a')])
    t.equal(compilePatterns(bad), undefined, JSON.stringify(bad).slice(0, 30));
});

t.test('a verified token is cached: the next look-up answers at once, until its exp', async (t) => {
  const verifier = new JwtVerifier({ ...NO_KEYS, secret: SECRET });
  const token = await mint({ sub: 'u1', subscribe: ['*'], expiresIn: 1 });
  t.equal(verifier.cached(token), undefined, 'not before it was verified');
  const claims = await verifier.verify(token);
  t.same(claims.identity, { id: 'u1', name: 'u1' }, 'the name defaults to sub');
  t.equal(verifier.cached(token), claims, 'then at once');
  t.same(verifier.stats(), { cached: 1, verified: 1, rejected: 0 });
  await new Promise((resolve) => setTimeout(resolve, claims.expires - Date.now() + 10));
  t.equal(verifier.cached(token), undefined, 'dropped at exp');
  t.equal(verifier.stats().cached, 0);
  const authority = new Authority({ ...NO_KEYS, secret: SECRET, subscribeToken: '', publishToken: '' });
  const fresh = await mint({ subscribe: ['room'] });
  t.ok(authority.rights([fresh]) instanceof Promise, 'a token not seen yet is verified (async)');
  await authority.rights([fresh]);
  t.notOk(authority.rights([fresh]) instanceof Promise, 'a token seen before: rights at once, no signature check');
});

t.test('public keys pin their algorithm: RS256, ES256 (P-256), EdDSA (Ed25519), and a JWKS', async (t) => {
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const verifier = new JwtVerifier({ ...NO_KEYS, publicKey: await exportSPKI(publicKey) });
    t.ok((await verifier.verify(await mint({ subscribe: ['*'] }, privateKey, alg))).subscribe.matches('x'), `${alg} verifies`);
    await t.rejects(
      verifier.verify(await mint({ subscribe: ['*'] })),
      new TokenRejected('token algorithm is not accepted'),
      `${alg} key: HS256 refused`,
    );
  }
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'k1' }] });
  const verifier = new JwtVerifier({ ...NO_KEYS, publicKey: jwks });
  const signed = await new SignJWT({ pollcast: { subscribe: ['*'] } }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
  t.ok((await verifier.verify(signed)).subscribe.matches('x'), 'a JWKS, by kid');
  t.throws(() => new JwtVerifier({ ...NO_KEYS, publicKey: 'not a key' }), /not a public key/, 'a bad key fails at start');
  const p384 = await exportSPKI((await generateKeyPair('ES384', { extractable: true })).publicKey);
  t.throws(() => new JwtVerifier({ ...NO_KEYS, publicKey: p384 }), /RSA, P-256 or Ed25519/);
});

t.test('malformed claims are refused with a reason', async (t) => {
  const verifier = new JwtVerifier({ ...NO_KEYS, secret: SECRET });
  const cases: [Parameters<typeof mint>[0], string][] = [
    [
      { extra: { pollcast: { subscribe: 'room' } } },
      'token "pollcast" claim must hold "subscribe" and "publish" lists of channel patterns',
    ],
    [{ name: 'evil\u202e', subscribe: ['*'] }, 'token "name" must be 1 to 64 characters, without control characters'],
    [{ sub: 'x'.repeat(129), subscribe: ['*'] }, 'token "sub" must be 1 to 128 characters'],
  ];
  for (const [claims, reason] of cases) {
    await t.rejects(verifier.verify(await mint(claims)), new TokenRejected(reason), reason);
  }
  await t.rejects(verifier.verify(`${'a'.repeat(9000)}.b.c`), /longer than/);
  t.same(verifier.stats(), { cached: 0, verified: 4, rejected: 4 });
});
