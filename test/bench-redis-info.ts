import t from 'tap';
import { parseInfo, readRedis, redisUsage } from '../bench/redis-info.js';
import { startRedis } from './fixtures/redis.js';

const redis = await startRedis(t);

t.test('parseInfo() reads CPU and the calls and time of each command', async (t) => {
  const reading = parseInfo(
    '# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.500000\r\nused_cpu_sys_children:9.000000\r\n' +
      '# Commandstats\r\ncmdstat_client|id:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n' +
      'cmdstat_xread:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n',
  );
  t.equal(reading.cpuSeconds, 1.75, "the server's own CPU, not its children's");
  t.same(
    [...reading.calls],
    [
      ['client|id', 2],
      ['xread', 7],
    ],
  );
  t.equal(reading.usec.get('xread'), 70);
});

t.test(
  "redisUsage() counts what a client sent between two readings, scripts' inner commands apart, the probe's INFO left out",
  async (t) => {
    const idle = await readRedis(redis.port);
    const before = await readRedis(redis.port);
    await redis.command('EVAL', "redis.call('XADD', KEYS[1], '*', 't', 'x'); return redis.call('XLEN', KEYS[1])", '1', 'pollcast:{a}');
    await redis.command('XREAD', 'COUNT', '10', 'STREAMS', 'pollcast:{a}', '0-0');
    await redis.command('CLIENT', 'ID');
    const usage = redisUsage(idle, before, await readRedis(redis.port));
    t.equal(usage.calls['eval'], 1);
    t.equal(usage.calls['xadd'], 1, 'a command a script runs is counted under its own name');
    t.equal(usage.calls['xread'], 1);
    t.equal(usage.calls['info'], undefined);
    t.equal(usage.roundTrips, 3, 'EVAL, XREAD and CLIENT ID: what the client sent itself');
    t.equal(usage.xreads, 1);
    t.ok(usage.cpuSeconds >= 0 && usage.seconds > 0 && usage.idleCores >= 0);
    t.ok(usage.commandSeconds >= 0 && usage.usec['eval']! >= usage.usec['xadd']!, "a script's time includes its commands'");
  },
);
