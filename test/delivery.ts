import t from 'tap';
import { Delivery } from '../src/client/delivery.js';
import { message } from './fixtures/fakes.js';

function setup() {
  const log: string[] = [];
  let closed = false;
  const delivery = new Delivery({ onMessage: (m) => log.push(m.id), onMissed: () => log.push('missed') }, () => closed);
  return { log, delivery, close: () => (closed = true) };
}

t.test('each message once, in the order given', async (t) => {
  const { log, delivery } = setup();
  delivery.batch({ messages: [message(1), message(2)], missed: false, cursor: 'm2' });
  delivery.message(message(2));
  delivery.batch({ messages: [message(1), message(3)], missed: false, cursor: 'm3' });
  t.same(log, ['m1', 'm2', 'm3']);
});

t.test('missed comes before the messages of its batch', async (t) => {
  const { log, delivery } = setup();
  delivery.batch({ messages: [message(7)], missed: true, cursor: 'm7' });
  t.same(log, ['missed', 'm7']);
});

t.test('nothing once closed, also in the middle of a batch', async (t) => {
  const { log, delivery, close } = setup();
  const stopping = new Delivery(
    {
      onMessage: (m) => {
        log.push(m.id);
        close();
      },
    },
    () => log.length > 0,
  );
  stopping.batch({ messages: [message(1), message(2)], missed: false, cursor: 'm2' });
  t.same(log, ['m1']);
  delivery.missed();
  delivery.message(message(9));
  t.same(log, ['m1'], 'closed: no missed, no message');
});
