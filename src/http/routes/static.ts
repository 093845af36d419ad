import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { HttpError, sendError } from '../errors.js';

const NOT_FOUND = new HttpError('not_found', 'not found');

/** A file larger than this is not served (the page and its scripts are tens of KiB): 500, and a line in the log. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** Bytes of file content kept in memory across all files; beyond it, files are read per request. */
const CACHE_BYTES = 32 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html;charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain;charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** One servable file: where it is, and what it is. */
interface Entry {
  readonly file: string;
  readonly type: string;
}

/** A file's content as last read, and the identity of the version it was read from. */
interface Cached {
  readonly version: string;
  readonly body: Buffer;
  readonly etag: string;
}

/**
 * Serves the files of `dir`. The folder is listed once, at start-up, and
 * only paths in that list are served, so `..`, encoded slashes and NUL bytes
 * cannot name anything outside it; dotfiles and source maps are left out of
 * the list. Each request reads the file as it is now (a deploy edits files in
 * place): the body is read whole from one open handle, and its length and
 * ETag (a hash of those bytes) are taken from the bytes sent, so they always
 * agree; a file removed since start-up is `404`. Files are revalidated on
 * every use (`no-cache` + ETag → 304), because their names carry no hash.
 */
export function createStatic(dir: string): (req: IncomingMessage, res: ServerResponse, path: string) => void {
  const files = listFiles(dir);
  const cache = new FileCache();
  return function serveStatic(req, res, path) {
    const entry = files.get(decodePath(path));
    if (!entry) {
      sendError(res, NOT_FOUND);
      return;
    }
    cache.read(entry.file).then(
      (content) => {
        if (res.destroyed) return;
        if (content) answer(req, res, entry, content);
        else sendError(res, NOT_FOUND);
      },
      (error: unknown) => {
        if (!res.destroyed) sendError(res, error);
      },
    );
  };
}

/** `decodeURI` as browsers encode paths; a malformed escape names no file. */
function decodePath(path: string): string {
  if (!path.includes('%')) return path;
  try {
    return decodeURI(path);
  } catch {
    return '';
  }
}

/**
 * URL paths → files: every file by its own path, then `/x` for `x.html` and
 * `/d`, `/d/` for `d/index.html` where no file of that name exists.
 */
function listFiles(dir: string): Map<string, Entry> {
  const files = new Map<string, Entry>();
  const aliases: [string, Entry][] = [];
  for (const name of walk(dir, '', new Set())) {
    const entry = { file: join(dir, name), type: TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream' };
    const path = `/${name}`;
    files.set(path, entry);
    if (!path.endsWith('.html')) continue;
    const bare = path.slice(0, -'.html'.length);
    aliases.push([bare, entry]);
    if (bare === '/index' || bare.endsWith('/index')) {
      const folder = bare.slice(0, -'index'.length);
      aliases.push([folder, entry]);
      if (folder !== '/') aliases.push([folder.slice(0, -1), entry]);
    }
  }
  for (const [path, entry] of aliases) if (!files.has(path)) files.set(path, entry);
  return files;
}

/**
 * The files under `dir/prefix`, as `/`-separated paths; dot-names and `.map`
 * files are skipped. A symbolic link counts as what it points to (as with
 * sirv); `seen` keeps a link to a parent folder from looping.
 */
function* walk(dir: string, prefix: string, seen: Set<string>): Generator<string> {
  const here = statSync(join(dir, prefix));
  const id = `${here.dev}:${here.ino}`;
  if (seen.has(id)) return;
  seen.add(id);
  for (const item of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    if (item.name.startsWith('.') || item.name.endsWith('.map')) continue;
    const name = prefix ? `${prefix}/${item.name}` : item.name;
    const stats = item.isSymbolicLink() ? statSync(join(dir, name), { throwIfNoEntry: false }) : item;
    if (stats?.isDirectory()) yield* walk(dir, name, seen);
    else if (stats?.isFile()) yield name;
  }
}

/**
 * The last read content of each file, reused while the file's inode, size,
 * mtime and ctime are the same: any write changes ctime, so a read torn by
 * a concurrent write is served at most once. Bounded by `CACHE_BYTES`.
 */
class FileCache {
  readonly #entries = new Map<string, Cached>();
  #bytes = 0;

  /** The file's current content; undefined when it is gone or is no longer a file. */
  async read(file: string): Promise<Cached | undefined> {
    // The usual case, a file unchanged since it was last read, costs one stat.
    const known = this.#entries.get(file);
    if (known) {
      const stats = await stat(file, { bigint: true }).catch(() => undefined);
      if (stats && versionOf(stats) === known.version) return known;
    }
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (isGone(error)) return undefined;
      throw error;
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) return undefined;
      const version = versionOf(stats);
      const body = await readToEnd(handle, Number(stats.size), file);
      const content = { version, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      this.#keep(file, content);
      return content;
    } finally {
      await handle.close();
    }
  }

  #keep(file: string, content: Cached): void {
    const old = this.#entries.get(file);
    if (old) {
      this.#entries.delete(file);
      this.#bytes -= old.body.length;
    }
    if (this.#bytes + content.body.length > CACHE_BYTES) return;
    this.#entries.set(file, content);
    this.#bytes += content.body.length;
  }
}

function versionOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/**
 * Reads from the start to the end of the file, whatever its size was a
 * moment ago (`expected`): the body sent is what the reads returned. Throws
 * once it passes `MAX_FILE_BYTES`, before holding more than that.
 */
async function readToEnd(handle: FileHandle, expected: number, file: string): Promise<Buffer> {
  // One byte more than expected, so that the end of the file is seen without growing the buffer.
  let buffer = Buffer.allocUnsafe(Math.min(expected, MAX_FILE_BYTES) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > MAX_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_FILE_BYTES} bytes, the most a static file may be`);
      buffer = Buffer.concat([buffer], Math.min(length * 2, MAX_FILE_BYTES + 1));
    }
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
    if (bytesRead === 0) return buffer.subarray(0, length);
    length += bytesRead;
  }
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function answer(req: IncomingMessage, res: ServerResponse, entry: Entry, { body, etag }: Cached): void {
  setSafetyHeaders(res);
  res.setHeader('etag', etag);
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304);
    res.end();
    return;
  }
  // Range is not honoured: a chat page has no use for partial content.
  res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** `If-None-Match` by the weak comparison (RFC 9110 §13.1.2): a list of tags, or `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`;
  });
}

function setSafetyHeaders(res: ServerResponse): void {
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
}
