/**
 * Node's `fetch`, with the reason of a network failure in its message: Node
 * says only "fetch failed" and keeps the useful part (`ECONNREFUSED`, …) in
 * `cause`, which the client's state lines would otherwise never show.
 */

/** `globalThis.fetch`, whose network errors read "fetch failed: connect ECONNREFUSED 127.0.0.1:8080". */
export async function explainedFetch(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const cause: unknown = error instanceof Error ? error.cause : undefined;
    if (!(error instanceof Error) || !(cause instanceof Error) || init.signal?.aborted) throw error;
    throw new Error(`${error.message}: ${cause.message}`, { cause });
  }
}
