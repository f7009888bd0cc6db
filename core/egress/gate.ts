// The egress gate: the one code path in Hearth that sends bytes off the machine.
//
// Given a route plan and a request body it: refuses when the plan's decision is deny (no socket is
// opened); redacts every string of the body (secret rules, plus the raw text of deny-listed files
// the plan saw); asks the user through the injected `confirm` when the decision is ask, unless a
// session or always grant covers it; sends; and appends every attempt, sent or not, to the ledger.
import { createHash, randomUUID } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { Feature, Location } from '../policy/types.js';
import { knownSecretsOf, type RoutePlan } from '../routing/plan.js';
import type { EgressLedger, EgressLedgerEntry, EgressOutcome, GrantKey, GrantKind, GrantStore, LedgerSource } from './ledger.js';
import { redactJson, redactKnown, redactText, type RedactionCount } from './redact.js';

/**
 * The user's answer. `pending`: the client shows the ask without blocking (a float, a status line)
 * and answers later through `answer()` (hearth/egress/answer); the request that asked goes on
 * without sending, and no further ask for the same provider/feature/workspace is raised meanwhile.
 */
export type ConfirmAnswer = GrantKind | 'deny' | 'pending';
/** The answers a user can give to an ask that is pending (everything but 'pending'). */
export type AskDecision = GrantKind | 'deny';

/** An egress permission the gate holds in memory (for `hearth grants`): granted, declined or still asked. */
export interface HeldEgressGrant {
  /** 'session': allowed until the daemon stops; 'declined': refused until then; 'pending': asked, not answered; 'once': one request allowed. */
  grant: 'session' | 'declined' | 'pending' | 'once';
  key: GrantKey;
  client: string | null;
  time: string;
  /** For 'pending' and 'once': when it lapses. */
  expires?: string;
  /** For 'pending': the id of the ask. */
  askId?: string;
}

/** The HTTP methods the gate sends (model downloads GET; `http.fetch` any of them). */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What the user is shown before anything is sent (the daemon sends it as `hearth/egress/confirm`). */
export interface ConfirmRequest {
  id: string;
  client: string | null;
  feature: Feature;
  provider: { id: string; model: string | null; location: Location; host: string };
  url: string;
  rule: string;
  reason: string;
  sources: LedgerSource[];
  /** The exact request body that will be sent, after redaction. */
  payload: string;
  bytes: number;
  sha256: string;
  redactions: RedactionCount[];
  options: ConfirmAnswer[];
}

export interface EgressGateOptions {
  ledger: EgressLedger;
  /** Ask the user. Called only when policy says ask and no grant covers the request. */
  confirm: (request: ConfirmRequest, signal?: AbortSignal) => Promise<ConfirmAnswer>;
  /** Where "always" grants live. Without it an "always" answer lasts for the session. */
  grants?: GrantStore;
  now?: () => Date;
  /** Whole-exchange timeout when the caller gives none. */
  timeoutMs?: number;
  /** Cap on a response body read with text()/json(). */
  maxResponseBytes?: number;
  /** Name resolution (default: the system's, dns.lookup); the connection goes to the address checked. */
  lookup?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface EgressRequest {
  plan: RoutePlan;
  /** Full URL; its host must be the planned provider's host. */
  url: string;
  /** JSON body. Every string in it is redacted before sending. */
  body?: unknown;
  /** A text body sent as it is (the caller's headers say what it is), after the same redaction. */
  rawBody?: string;
  /** POST (default: the JSON `body`), or any other method: model downloads GET, `http.fetch` any. */
  method?: HttpMethod;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * Called once the request is cleared to go (policy, redaction and any confirmation done), right
   * before the connection opens. Callers start their own timeouts here, so the time a user spends
   * reading the confirmation prompt does not count against the provider's deadline.
   */
  onSending?: () => void;
}

export interface EgressResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The raw response stream (for SSE). Aborting the request's signal ends it. */
  body: Readable;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  /** The ledger entry written for this request. */
  entry: EgressLedgerEntry;
}

export class EgressRefusedError extends Error {
  constructor(
    message: string,
    readonly outcome: Exclude<EgressOutcome, 'sent' | 'failed'>,
    readonly entry: EgressLedgerEntry,
    /** 'pending': not sent because the ask waits for an answer; 'declined-earlier': a decline of this session stands. */
    readonly detail?: 'pending' | 'declined-earlier',
  ) {
    super(message);
    this.name = 'EgressRefusedError';
  }
}

export class EgressFailedError extends Error {
  constructor(
    message: string,
    readonly entry: EgressLedgerEntry,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'EgressFailedError';
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function grantKey(plan: RoutePlan): GrantKey {
  return { provider: plan.provider?.id ?? '', feature: plan.feature, workspace: plan.workspaceRoot ?? '' };
}
const keyString = (k: GrantKey): string => JSON.stringify([k.provider, k.feature, k.workspace]);

/** How long an unanswered non-blocking ask stands (then the next request asks again), and a 'once' waits to be used. */
const PENDING_MS = 5 * 60_000;
const ONCE_MS = 10 * 60_000;
/** Features whose requests come by themselves (not on the user's command): their declines stand for the session. */
const REMEMBER_DECLINES: ReadonlySet<Feature> = new Set<Feature>(['completion']);

export class EgressGate {
  private readonly session = new Map<string, HeldEgressGrant>();
  /** Declined asks: refused without asking again until the daemon stops or the decline is revoked. */
  private readonly declined = new Map<string, HeldEgressGrant>();
  /** Asks a client shows without blocking, waiting for answer(). */
  private readonly pending = new Map<string, HeldEgressGrant>();
  /** 'once' answers given to a pending ask: the next request of that key goes. */
  private readonly once = new Map<string, HeldEgressGrant>();
  private readonly now: () => Date;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(private readonly opts: EgressGateOptions) {
    this.now = opts.now ?? (() => new Date());
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 32 * 1024 * 1024;
  }

  /** Forget session grants and declines (e.g. when the user asks to be asked again). */
  clearSessionGrants(): void {
    this.session.clear();
    this.declined.clear();
  }

  private live(map: Map<string, HeldEgressGrant>, k: string): HeldEgressGrant | undefined {
    const g = map.get(k);
    if (g?.expires && Date.parse(g.expires) <= this.now().getTime()) {
      map.delete(k);
      return undefined;
    }
    return g;
  }

  /**
   * Why an ask for this key would not be put to the user now: declined earlier this session, or an
   * ask already waiting for an answer. The router passes over such a provider to the next in the chain.
   */
  askBlocked(key: GrantKey): { cause: 'declined' | 'pending'; reason: string } | null {
    const k = keyString(key);
    if (this.session.has(k) || this.live(this.once, k)) return null;
    const d = this.declined.get(k);
    if (d) return { cause: 'declined', reason: `declined by you${d.client ? ` (${d.client})` : ''} this session; \`hearth grants\` lists it, \`hearth grants revoke ID\` asks again` };
    const p = this.live(this.pending, k);
    if (p) return { cause: 'pending', reason: `asked${p.client ? ` in ${p.client}` : ''}, waiting for your answer (in Neovim: :Hearth allow once|session|always, :Hearth deny)` };
    return null;
  }

  /**
   * The answer to a pending ask (hearth/egress/answer), from the client it was shown to. Returns
   * false when no such ask is pending (answered already, lapsed, or asked of another client).
   */
  async answer(askId: string, decision: AskDecision, client: string | null): Promise<boolean> {
    for (const [k, p] of this.pending) {
      if (p.askId !== askId) continue;
      if (p.client !== client) return false;
      this.pending.delete(k);
      const held = { key: p.key, client, time: this.now().toISOString() };
      if (decision === 'deny') {
        if (REMEMBER_DECLINES.has(p.key.feature)) this.declined.set(k, { grant: 'declined', ...held });
      }
      else if (decision === 'once') this.once.set(k, { grant: 'once', ...held, expires: new Date(this.now().getTime() + ONCE_MS).toISOString() });
      else if (decision === 'session' || !this.opts.grants) this.session.set(k, { grant: 'session', ...held });
      else await this.opts.grants.add(p.key, { client, time: held.time });
      return true;
    }
    return false;
  }

  /** Withdraw the asks pending in a client that went away. */
  dropPending(client: string): void {
    for (const [k, p] of this.pending) if (p.client === client) this.pending.delete(k);
  }

  /** The egress permissions held in memory: session grants, declines, pending asks, unused 'once' answers. */
  heldGrants(): HeldEgressGrant[] {
    const out: HeldEgressGrant[] = [];
    for (const map of [this.session, this.declined, this.pending, this.once]) {
      for (const k of [...map.keys()]) {
        const g = this.live(map, k);
        if (g) out.push({ ...g, key: { ...g.key } });
      }
    }
    return out;
  }

  /** Forget one held permission; true when there was one. */
  revokeHeld(key: GrantKey, grant: HeldEgressGrant['grant']): boolean {
    const map = { session: this.session, declined: this.declined, pending: this.pending, once: this.once }[grant];
    return map.delete(keyString(key));
  }

  /**
   * Sends one request through the gate's steps: 1. policy, 2. redaction of the exact body, 3. the
   * ask (unless a grant covers it), 3b. the host resolved once and pinned, 4. the send. Every
   * attempt, sent or not, is appended to the ledger, durably, before this returns or throws.
   */
  async send(req: EgressRequest): Promise<EgressResponse> {
    const a = this.attempt(req);
    await this.checkPolicy(a);
    await this.redactBody(a);
    a.grant = await this.clearGrant(a);
    if (req.signal?.aborted) return this.refuse(a, 'cancelled', 'egress cancelled; nothing was sent');
    const pinned = await this.pinAddress(a);
    return this.transmit(a, pinned);
  }

  private attempt(req: EgressRequest): Attempt {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new Error(`egress: invalid URL ${JSON.stringify(req.url)}`);
    }
    const { plan } = req;
    return {
      req, plan, url, host: url.host, method: req.method ?? 'POST', json: false, body: EMPTY, digest: EMPTY_SHA256, redactions: plan.redactions, found: [], grant: null,
      sources: plan.pieces.map((p) => ({ source: p.source, bytes: p.bytes, sentBytes: p.sentBytes, dataClass: p.dataClass, redactions: p.redactions })),
    };
  }

  /** The ledger entry for this attempt: its body's hash, redactions and grant so far, unless `extra` says otherwise. */
  private entry(a: Attempt, outcome: EgressOutcome, extra: Partial<EgressLedgerEntry> = {}): EgressLedgerEntry {
    const { plan } = a;
    return {
      time: this.now().toISOString(), client: plan.client, feature: plan.feature, provider: plan.provider?.id ?? '(none)', model: plan.provider?.model ?? null,
      location: plan.location, host: a.host, decision: plan.decision, outcome, grant: a.grant, rule: plan.rule, bytes: 0, sha256: a.digest, status: null,
      error: null, redactions: a.redactions, sources: a.sources, ...extra,
    };
  }

  /** Appends the refusal durably, then throws it. */
  private async refuse(a: Attempt, outcome: 'denied' | 'declined' | 'cancelled', message: string, detail?: 'pending' | 'declined-earlier'): Promise<never> {
    const entry = this.entry(a, outcome, { error: message });
    await this.opts.ledger.append(entry);
    throw new EgressRefusedError(message, outcome, entry, detail);
  }

  /** 1. Policy. A denied plan is refused before any byte is prepared or any socket opened. */
  private async checkPolicy(a: Attempt): Promise<void> {
    const { plan, host, url } = a;
    if (plan.decision === 'deny' || !plan.provider) {
      const what = plan.feature === 'model-download' ? `downloading from ${plan.provider?.host ?? 'this host'}` : `sending ${plan.feature} data to ${plan.provider?.id ?? 'any provider'}`;
      return this.refuse(a, 'denied', `egress refused: policy denies ${what} (${plan.rule}); nothing was sent`);
    }
    if (plan.provider.host !== null && plan.provider.host !== host) {
      return this.refuse(a, 'denied', `egress refused: ${host} is not the host of the planned provider ${plan.provider.id} (${plan.provider.host}); nothing was sent`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return this.refuse(a, 'denied', `egress refused: unsupported protocol ${url.protocol}`);
  }

  /** 2. Redaction of the exact body: a JSON body string by string, a raw text body as a whole; hashed once. */
  private async redactBody(a: Attempt): Promise<void> {
    const { req, plan } = a;
    const secrets = knownSecretsOf(plan);
    a.json = req.rawBody === undefined && (req.body !== undefined || a.method === 'POST');
    let red: { count: number; redactions: RedactionCount[] } = { count: 0, redactions: [] };
    if (req.rawBody !== undefined) {
      const scanned = await redactText(req.rawBody);
      const known = secrets.length ? redactKnown(scanned.text, secrets) : null;
      red = { count: scanned.count + (known?.count ?? 0), redactions: mergeCounts(scanned.redactions, known?.redactions ?? []) };
      a.body = Buffer.from(known?.text ?? scanned.text, 'utf8');
    } else if (a.json) {
      const r = await redactJson(req.body, secrets.length ? (s) => redactKnown(s, secrets) : undefined);
      red = r;
      a.body = Buffer.from(JSON.stringify(r.value), 'utf8');
    }
    a.digest = a.body.length ? sha256(a.body) : EMPTY_SHA256;
    a.redactions = plan.redactions + red.count;
    a.found = red.redactions;
  }

  /** 3. The grant that lets an `ask` plan go: a held one, or the user's answer. Null for an allowed plan. */
  private async clearGrant(a: Attempt): Promise<GrantKind | null> {
    const { plan } = a;
    if (plan.decision !== 'ask') return null;
    const key = grantKey(plan);
    const ks = keyString(key);
    if (this.session.has(ks)) return 'session';
    if (this.opts.grants && (await this.opts.grants.has(key))) return 'always';
    if (this.live(this.once, ks)) {
      this.once.delete(ks);
      return 'once';
    }
    if (this.declined.has(ks)) {
      return this.refuse(a, 'declined', `egress declined: you declined sending ${plan.feature} data to ${plan.provider!.id} earlier this session; nothing was sent`, 'declined-earlier');
    }
    if (this.live(this.pending, ks)) {
      return this.refuse(a, 'cancelled', `egress waits for your answer to the ask shown in ${this.pending.get(ks)!.client ?? 'the editor'}; nothing was sent`, 'pending');
    }
    if (a.req.signal?.aborted) return this.refuse(a, 'cancelled', 'egress cancelled before confirmation; nothing was sent');
    return this.ask(a, key, ks);
  }

  /** 3, no grant held: asks the user and keeps the answer (session, always, a decline of a completion). */
  private async ask(a: Attempt, key: GrantKey, ks: string): Promise<GrantKind> {
    const { plan, req, url } = a;
    const provider = plan.provider!;
    const confirmId = randomUUID();
    const answer = await this.opts.confirm(
      {
        id: confirmId, client: plan.client, feature: plan.feature, provider: { id: provider.id, model: provider.model, location: provider.location, host: a.host },
        url: url.toString(), rule: plan.rule, reason: plan.reason, sources: a.sources,
        payload: a.body.length ? a.body.toString('utf8') : `${a.method} ${url.toString()}`,
        bytes: a.body.length, sha256: a.digest, redactions: mergeCounts(plan.pieces.flatMap((p) => p.redactions), a.found),
        options: ['once', 'session', 'always', 'deny'],
      },
      req.signal,
    );
    const held = { key, client: plan.client, time: this.now().toISOString() };
    if (answer === 'pending') {
      // Shown without blocking: this request goes on without sending; the answer comes later.
      this.pending.set(ks, { grant: 'pending', ...held, askId: confirmId, expires: new Date(this.now().getTime() + PENDING_MS).toISOString() });
      return this.refuse(a, 'cancelled', `egress waits for your answer to the ask shown in ${plan.client ?? 'the editor'}; nothing was sent`, 'pending');
    }
    // The caller gave up while the user was asked: whatever the answer, nothing is sent.
    // (withdrawn: the signal's reason, when it gives one, says why: e.g. 'requester disconnected').
    if (req.signal?.aborted) {
      const why = typeof req.signal.reason === 'string' ? ` (withdrawn: ${req.signal.reason})` : '';
      return this.refuse(a, 'cancelled', `egress cancelled while waiting for the confirmation${why}; nothing was sent`);
    }
    if (answer === 'deny') {
      // Remembered for completions, which ask again on every pause by themselves: the same ask
      // is not put again this session (`hearth grants revoke` undoes it). A decline of a request
      // the user made on purpose (a chat, a task, a download) covers that request only.
      if (REMEMBER_DECLINES.has(plan.feature)) this.declined.set(ks, { grant: 'declined', ...held });
      return this.refuse(a, 'declined', `egress declined by the user; nothing was sent to ${provider.id}`);
    }
    if (answer === 'session') this.session.set(ks, { grant: 'session', ...held });
    if (answer === 'always') {
      if (this.opts.grants) await this.opts.grants.add(key, { client: plan.client, time: held.time });
      else this.session.set(ks, { grant: 'session', ...held });
    }
    return answer;
  }

  /**
   * 3b. Resolve the host once and connect to exactly that address. A name the plan treats as
   * cloud must not lead inside this machine or network (DNS rebinding: a public name that
   * answers with 127.0.0.1 or a private address would reach local services).
   */
  private async pinAddress(a: Attempt): Promise<{ address: string; family: number } | undefined> {
    const { url, plan } = a;
    if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) return undefined;
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = await (this.opts.lookup ?? ((h: string) => dnsLookup(h, { all: true })))(url.hostname);
    } catch (e) {
      const entry = this.entry(a, 'failed', { error: `cannot resolve ${url.hostname}: ${(e as Error).message}` });
      await this.opts.ledger.append(entry);
      throw new EgressFailedError(`egress to ${a.host} failed: cannot resolve ${url.hostname}: ${(e as Error).message}`, entry, e);
    }
    const inside = addresses.find((x) => addressLocation(x.address) !== 'cloud');
    if (plan.location === 'cloud' && inside) {
      return this.refuse(a, 'denied', `egress refused: ${url.hostname} is treated as a cloud host but resolves to ${inside.address} (${addressLocation(inside.address)}); ` +
        'a public name that points inside this machine or network is refused (DNS rebinding). If it is yours, declare it with location: lan or local in the policy; nothing was sent');
    }
    if (!addresses[0]) return this.refuse(a, 'denied', `egress refused: ${url.hostname} resolved to no address; nothing was sent`);
    return addresses[0];
  }

  /** 4. Send, and account for it: the 'sent' (or 'failed') entry is durable before the response is handed over. */
  private async transmit(a: Attempt, pinned: { address: string; family: number } | undefined): Promise<EgressResponse> {
    const { req, url, body } = a;
    req.onSending?.();
    // timeoutMs 0: no whole-exchange limit (a model download's length is unknown; it has an idle timeout).
    const limitMs = req.timeoutMs ?? this.timeoutMs;
    const timeout = limitMs > 0 ? AbortSignal.timeout(limitMs) : undefined;
    const signal = req.signal && timeout ? AbortSignal.any([req.signal, timeout]) : (req.signal ?? timeout);
    let flushed = false;
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const lib = url.protocol === 'https:' ? https : http;
        const length = { 'content-length': String(body.length) };
        const r = lib.request(url, {
          method: a.method,
          headers: a.json ? { ...req.headers, 'content-type': 'application/json', ...length } : { ...req.headers, ...(body.length ? length : {}) },
          ...(signal ? { signal } : {}),
          ...(pinned ? { lookup: pinnedLookup(pinned) } : {}),
        });
        r.on('finish', () => (flushed = true));
        r.on('response', resolve);
        r.on('error', reject);
        r.end(body);
      });
    } catch (e) {
      const { cancelled, message } = failureOf(req.signal, timeout, limitMs, e);
      const entry = this.entry(a, cancelled ? 'cancelled' : 'failed', { bytes: flushed ? body.length : 0, error: message });
      await this.opts.ledger.append(entry);
      throw new EgressFailedError(`egress to ${a.host} failed: ${message}`, entry, e);
    }
    const entry = this.entry(a, 'sent', { bytes: body.length, status: res.statusCode ?? 0 });
    await this.opts.ledger.append(entry);
    return responseOf(res, a.host, this.maxResponseBytes, entry);
  }
}

/** One request on its way through the gate's steps. */
interface Attempt {
  req: EgressRequest;
  plan: RoutePlan;
  url: URL;
  host: string;
  method: HttpMethod;
  /** Sent as JSON (the redacted `body`), else as it is (`rawBody`, or nothing). */
  json: boolean;
  /** The exact bytes that will be sent (after redaction), and their sha256. */
  body: Buffer;
  digest: string;
  /** All redactions: the plan's and the body's. */
  redactions: number;
  /** The body's redactions by rule (shown in the ask). */
  found: RedactionCount[];
  grant: GrantKind | null;
  sources: LedgerSource[];
}

const EMPTY = Buffer.alloc(0);
const EMPTY_SHA256 = sha256(EMPTY);

/** Why a request failed, as the ledger says it: a caller's deadline counts as a timeout, not a cancel. */
function failureOf(callerSignal: AbortSignal | undefined, timeout: AbortSignal | undefined, limitMs: number, e: unknown): { cancelled: boolean; message: string } {
  // A caller's deadline aborts its signal with a reason saying so: record that as a timeout.
  const reason: unknown = callerSignal?.reason;
  const callerTimeout = reason instanceof Error && (reason.name === 'TimeoutError' || reason.message === 'timeout');
  const cancelled = callerSignal?.aborted === true && !callerTimeout;
  const message = cancelled
    ? 'cancelled by the caller'
    : timeout?.aborted
      ? `timed out after ${limitMs} ms`
      : callerTimeout
        ? "timed out (the caller's deadline passed)"
        : (e as Error).message;
  return { cancelled, message };
}

/** The response as the gate hands it over: the stream, and text()/json() capped at `max` bytes. */
function responseOf(res: IncomingMessage, host: string, max: number, entry: EgressLedgerEntry): EgressResponse {
  const text = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res) {
      n += (c as Buffer).length;
      if (n > max) {
        res.destroy();
        throw new Error(`response from ${host} exceeds ${max} bytes`);
      }
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  };
  return { status: res.statusCode ?? 0, headers: res.headers, body: res, text, json: async <T>() => JSON.parse(await text()) as T, entry };
}

/** Where an IP address is: loopback is local, private and link-local ranges are LAN, else cloud. */
const LOOPBACK_NETS = new BlockList();
LOOPBACK_NETS.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK_NETS.addAddress('::1', 'ipv6');
LOOPBACK_NETS.addAddress('0.0.0.0', 'ipv4');
LOOPBACK_NETS.addAddress('::', 'ipv6');
const PRIVATE_NETS = new BlockList();
for (const [net, bits] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['100.64.0.0', 10]] as const) PRIVATE_NETS.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['fc00::', 7], ['fe80::', 10]] as const) PRIVATE_NETS.addSubnet(net, bits, 'ipv6');
export function addressLocation(address: string): Location {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (LOOPBACK_NETS.check(ip, type)) return 'local';
  if (PRIVATE_NETS.check(ip, type)) return 'lan';
  return 'cloud';
}

/** A `lookup` for http.request that answers with the address already checked, in either calling style. */
function pinnedLookup(a: { address: string; family: number }): LookupFunction {
  return ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (options?.all) cb(null, [{ address: a.address, family: a.family }]);
    else cb(null, a.address, a.family);
  }) as unknown as LookupFunction;
}

function mergeCounts(...lists: RedactionCount[][]): RedactionCount[] {
  const m = new Map<string, number>();
  for (const l of lists) for (const r of l) m.set(r.rule, (m.get(r.rule) ?? 0) + r.count);
  return [...m].map(([rule, count]) => ({ rule, count }));
}
