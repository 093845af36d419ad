import t from 'tap';
import { checkCsp, contentSecurityPolicy, defaultCsp } from '../src/http/csp.js';

t.test('the strict policy allows scripts from this origin only and names the page host for WebSockets', async (t) => {
  const policy = contentSecurityPolicy('strict', '127.0.0.1:8080')!;
  t.match(policy, /script-src 'self';/);
  t.notMatch(policy, /unsafe-inline/);
  t.match(policy, /connect-src 'self' ws:\/\/127\.0\.0\.1:8080 wss:\/\/127\.0\.0\.1:8080;/);
  t.match(policy, /frame-ancestors 'none'/);
});

t.test('an IPv6 Host gets no ws:// source (not valid CSP), only self', async (t) => {
  for (const host of ['[::1]:8080', '[2001:db8::1]', '[::ffff:127.0.0.1]:80']) {
    const policy = contentSecurityPolicy('strict', host)!;
    t.match(policy, /connect-src 'self';/, host);
    t.notMatch(policy, /ws:/, host);
  }
});

t.test('a Host that is not a valid host-source never reaches the policy', async (t) => {
  for (const host of ['evil.com; script-src *', 'a b', "x'y", 'a..b', '.a', 'a:99999x', '', undefined]) {
    const policy = contentSecurityPolicy('strict', host)!;
    t.match(policy, /connect-src 'self';/, String(host));
    t.equal(policy.split(';').length, 9, `${String(host)}: nine directives, none injected`);
  }
});

t.test('the page policy allows inline scripts and styles, and off sends nothing', async (t) => {
  const policy = contentSecurityPolicy('page', 'example.com')!;
  t.match(policy, /script-src 'self' 'unsafe-inline';/);
  t.match(policy, /style-src 'self' 'unsafe-inline';/);
  t.match(policy, /connect-src 'self' ws:\/\/example\.com wss:\/\/example\.com;/);
  t.equal(contentSecurityPolicy('off', 'example.com'), undefined);
});

t.test('a policy of your own is sent as given', async (t) => {
  t.equal(contentSecurityPolicy("default-src 'self' https://cdn.example", 'x'), "default-src 'self' https://cdn.example");
});

t.test('settings are checked: names, or a whole policy on one line', async (t) => {
  for (const ok of ['strict', 'page', 'off', "default-src 'none'"]) t.doesNotThrow(() => checkCsp(ok), ok);
  for (const bad of ['strictly', "default-src 'self'\r\nx-evil: 1", '']) t.throws(() => checkCsp(bad), TypeError, JSON.stringify(bad));
});

t.test("pollcast's own folder is strict by default, any other folder gets the page policy", async (t) => {
  t.equal(defaultCsp('/pkg/public', '/pkg/public'), 'strict');
  t.equal(defaultCsp('/srv/demo', '/pkg/public'), 'page');
});
