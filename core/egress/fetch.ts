// A `fetch` that goes through the egress gate, for model downloads and the `http.fetch` tool: every
// request — and, when redirects are followed, every hop (a model hub typically redirects to a CDN
// on another host) — is planned against the policy, confirmed where it says ask, redacted, and
// written to the ledger before a socket opens.
import { Readable } from 'node:stream';
import type { RoutePlan } from '../routing/plan.js';
import { HTTP_METHODS, type EgressGate, type HttpMethod } from './gate.js';

export interface GatedFetchOptions {
  /** The plan for this request (core/routing planDownload, planToolFetch). */
  planFor(url: string, body: string | undefined): Promise<RoutePlan>;
  /** Follow redirects, each planned on its own (default true); false returns the 3xx response. */
  followRedirects?: boolean;
  /** Redirects followed at most (default 5). */
  maxRedirects?: number;
  /** Whole-exchange limit in ms; 0 = none (default: 0, downloads have their own idle timeout). */
  timeoutMs?: number;
}

export function gatedFetch(gate: EgressGate, opts: GatedFetchOptions): typeof globalThis.fetch {
  const maxRedirects = opts.maxRedirects ?? 5;
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let url = input instanceof Request ? input.url : String(input);
    const method = (init?.method ?? 'GET').toUpperCase() as HttpMethod;
    if (!HTTP_METHODS.includes(method)) throw new Error(`egress: unsupported method ${method}`);
    if (init?.body !== undefined && init.body !== null && typeof init.body !== 'string') throw new Error('egress: only text bodies can be sent');
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const signal = init?.signal ?? undefined;
    for (let hop = 0; ; hop++) {
      const plan = await opts.planFor(url, body);
      const res = await gate.send({
        plan, url, method, headers, timeoutMs: opts.timeoutMs ?? 0,
        ...(body !== undefined ? { rawBody: body } : {}), ...(signal ? { signal } : {}),
      });
      const location = res.headers.location;
      if (opts.followRedirects !== false && res.status >= 300 && res.status < 400 && location) {
        res.body.destroy();
        if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects fetching ${String(input)}`);
        url = new URL(location, url).toString();
        continue;
      }
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      const empty = method === 'HEAD' || res.status === 204 || res.status === 304;
      if (empty) res.body.destroy();
      return new Response(empty ? null : (Readable.toWeb(res.body) as ReadableStream<Uint8Array>), { status: res.status, headers: h });
    }
  }) as typeof globalThis.fetch;
}
