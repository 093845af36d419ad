import t from 'tap';
import { WaitingRoom } from '../src/http/waiting-room.js';

t.test('places are limited in total and per client, and come back on leave()', async (t) => {
  const room = new WaitingRoom(3, 2);
  t.ok(room.enter('a'));
  t.ok(room.enter('a'));
  t.notOk(room.enter('a'), 'a has its two');
  t.ok(room.enter('b'));
  t.notOk(room.enter('c'), 'the room is full');
  t.equal(room.total, 3);
  room.leave('a');
  t.ok(room.enter('c'));
  room.leave('a');
  room.leave('b');
  room.leave('c');
  t.equal(room.total, 0);
  t.ok(room.enter('a') && room.enter('a'), 'a fresh start for a');
});
