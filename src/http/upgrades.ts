import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { hostHeaders, splitPath, splitTarget } from './target.js';

/**
 * Which upgrade offers are upgrades. Node hands every request with an
 * `Upgrade` header to the `'upgrade'` listener once one exists (on Node 20
 * there is no `shouldUpgradeCallback` to say otherwise), but only a WebSocket
 * upgrade of `/ws` is one here. Everything else — `Upgrade: h2c` from Java's
 * `HttpClient` or `curl --http2`, a WebSocket offer to another path, a
 * request with two `Host` headers — is served as HTTP/1.1, as RFC 9110 §7.8
 * lets a server do with an offer it declines.
 */

/** Hop-by-hop headers of an upgrade offer, dropped when it is served as HTTP/1.1. */
const OFFER_HEADERS = new Set(['upgrade', 'http2-settings']);

/** Whether the request is a WebSocket upgrade of `/ws[/CHANNEL]`, with the single `Host` it must have. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  if (!(req.headers.upgrade ?? '').split(',').some((token) => token.trim().toLowerCase() === 'websocket')) return false;
  if (hostHeaders(req) > 1) return false;
  try {
    return splitPath(splitTarget(req.url ?? '').path)[0] === 'ws';
  } catch {
    return false;
  }
}

/**
 * Serves a declined upgrade offer as an ordinary request of `server`: the
 * request head is written again without the offer and put back in front of
 * what followed it (`head`: the body, further pipelined requests), and the
 * socket is handed to the server as a new connection (the documented way to
 * inject one). Node's own parser then reads the body, keeps the connection
 * alive and applies its timeouts, exactly as for any other request. An offer
 * pipelined behind an answer still under way (a parked poll) waits for it,
 * as any pipelined request does.
 */
export function serveAsHttp1(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const again = requestHead(req);
  // Node takes its own listeners off an upgraded socket: until the server has it back, this one hears its errors.
  socket.on('error', destroySocket);
  const earlier = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (earlier) earlier.once('close', () => reinject(server, socket, again, head));
  else reinject(server, socket, again, head);
}

function reinject(server: Server, socket: Duplex, requestHead: Buffer, rest: Buffer): void {
  // The answer before it closed the connection (or the client left): the offer goes unanswered, as would any request after it.
  if (!socket.writable) return;
  socket.off('error', destroySocket);
  // Two unshifts, not one concatenation: many offers pipelined in one packet would otherwise copy its rest once each.
  if (rest.length) socket.unshift(rest);
  socket.unshift(requestHead);
  server.emit('connection', socket);
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/** The request line and headers of `req` again, without the upgrade offer. */
function requestHead(req: IncomingMessage): Buffer {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    if (OFFER_HEADERS.has(lower)) continue;
    if (lower !== 'connection') {
      lines.push(`${name}: ${value}`);
      continue;
    }
    const kept = value
      .split(',')
      .map((token) => token.trim())
      .filter((token) => token && !OFFER_HEADERS.has(token.toLowerCase()));
    if (kept.length) lines.push(`${name}: ${kept.join(', ')}`);
  }
  // The parser has validated every name and value (no CR, LF or NUL): they go back as they came, byte for byte.
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
