// A `fetch` for model downloads that goes through the egress gate: every request, and every
// redirect hop (a model hub typically redirects to a CDN on another host), is planned against the
// policy, confirmed where it says ask, and written to the ledger before a socket opens.
import { Readable } from 'node:stream';
import type { RoutePlan } from '../routing/plan.js';
import type { EgressGate } from './gate.js';

export interface GatedFetchOptions {
  /** The plan for a GET of this URL (core/routing planDownload). */
  planFor(url: string): Promise<RoutePlan>;
  /** Redirects followed at most (default 5). */
  maxRedirects?: number;
}

export function gatedFetch(gate: EgressGate, opts: GatedFetchOptions): typeof globalThis.fetch {
  const maxRedirects = opts.maxRedirects ?? 5;
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let url = input instanceof Request ? input.url : String(input);
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const signal = init?.signal ?? undefined;
    for (let hop = 0; ; hop++) {
      const plan = await opts.planFor(url);
      const res = await gate.send({ plan, url, method: 'GET', headers, timeoutMs: 0, ...(signal ? { signal } : {}) });
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        res.body.destroy();
        if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects fetching ${String(input)}`);
        url = new URL(location, url).toString();
        continue;
      }
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      const empty = res.status === 204 || res.status === 304;
      if (empty) res.body.destroy();
      return new Response(empty ? null : (Readable.toWeb(res.body) as ReadableStream<Uint8Array>), { status: res.status, headers: h });
    }
  }) as typeof globalThis.fetch;
}
