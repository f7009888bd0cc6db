// The anchor at run time: the daemon's DeviceAnchor signs a checkpoint after each durable append
// to the audit log or the egress ledger (batched: appends that land while one checkpoint is being
// written share the next one), and every verify compares the store with the checkpoint read back
// from disk. When the store does not hold what the checkpoint pinned (the tail cut, the tables
// emptied, an older copy restored), the anchor is *held*: it signs nothing new for that log, so
// the evidence stays until the user decides (`hearth anchor reset`, or an import they accepted).
import {
  CHAINED_LOGS,
  EMPTY_HEAD,
  LOG_TABLE,
  short,
  type AnchorSummary,
  type AnchorableLog,
  type ChainHead,
  type ChainedLog,
  type VerifyResult,
} from './chain.js';
import {
  AnchorFile,
  highestCounter,
  nextBody,
  readAnchor,
  signCheckpoint,
  writeAnchorFile,
  type AnchorEvent,
  type AnchorReading,
  type CheckpointBody,
  type SignedCheckpoint,
} from './checkpoint.js';
import { ensureDeviceKey, readDeviceKey, type DeviceKey } from './key.js';

/** The read side of the store the anchor needs (core/store's Store fits). */
export interface AnchorStoreReader {
  all<T>(sql: string, params?: (string | number | null)[]): T[];
}

const RESET = '`hearth anchor reset`';

/** The last record of each chained log, from the records themselves (not the in-store head rows). */
export function storeHeads(store: AnchorStoreReader): Record<ChainedLog, ChainHead> {
  const last = (sql: string): ChainHead => store.all<ChainHead>(sql)[0] ?? { ...EMPTY_HEAD };
  return {
    audit: last('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
    egress: last('SELECT id AS seq, hash FROM egress_ledger ORDER BY id DESC LIMIT 1'),
  };
}

function hashAtIn(store: AnchorStoreReader, log: ChainedLog, seq: number): string | undefined {
  const sql = log === 'audit' ? 'SELECT hash FROM audit_log WHERE seq = ?' : 'SELECT hash FROM egress_ledger WHERE id = ?';
  return store.all<{ hash: string }>(sql, [seq])[0]?.hash;
}

function summary(ck: CheckpointBody, log: ChainedLog): AnchorSummary {
  return { counter: ck.counter, time: ck.time, device: ck.device, seq: ck.logs[log].seq, hash: ck.logs[log].hash };
}

/**
 * Why the store's log does not hold what the checkpoint pinned, or null. Cheap (two lookups), so
 * the daemon runs it on start; verify runs it after the whole chain checked out.
 */
export function divergence(
  log: ChainedLog,
  ck: CheckpointBody,
  last: ChainHead,
  hashAt: (seq: number) => string | undefined,
): { seq: number; kind: 'truncated' | 'emptied' | 'rewritten'; message: string } | null {
  const t = LOG_TABLE[log];
  const pinned = ck.logs[log];
  const where = `the signed checkpoint #${ck.counter} (${ck.time}, device ${ck.device}) saw ${t.noun} ${pinned.seq} with hash ${short(pinned.hash)}`;
  const cause = 'tail records were deleted, or an older copy of the store or an older export was put in its place';
  if (last.seq < pinned.seq) {
    if (last.seq === 0) {
      return {
        seq: 1,
        kind: 'emptied',
        message: `${t.title} (table ${t.table}) is empty, but ${where}: all ${pinned.seq} ${t.noun}(s) are gone; the table was emptied or the store replaced`,
      };
    }
    return {
      seq: last.seq + 1,
      kind: 'truncated',
      message:
        `${t.title} (table ${t.table}) ends at ${t.noun} ${last.seq} (hash ${short(last.hash)}), but ${where}: ${t.noun}s ${last.seq + 1}..${pinned.seq} ` +
        `are missing (expected head ${pinned.seq} ${short(pinned.hash)}, found ${last.seq} ${short(last.hash)}); ${cause}`,
    };
  }
  if (pinned.seq === 0) return null;
  const found = hashAt(pinned.seq);
  if (found !== pinned.hash) {
    return {
      seq: pinned.seq,
      kind: 'rewritten',
      message:
        `${t.title} (table ${t.table}) ${t.noun} ${pinned.seq} has hash ${found ? short(found) : '(none)'}, but ${where}: the ${t.title} up to ${t.noun} ${pinned.seq} ` +
        `was rewritten (its records changed and its hashes recomputed), or replaced by another history`,
    };
  }
  return null;
}

/** One log's chain, checked against what the anchor file holds. */
export function checkLog(log: AnchorableLog, reading: AnchorReading, key: DeviceKey | null): VerifyResult {
  const chain = log.verify();
  const t = LOG_TABLE[log.log];
  if (reading.state === 'missing') {
    if (!key) return { ...chain, anchor: null, unanchored: chain.records }; // a home never anchored (before its first daemon start)
    return {
      ok: false,
      records: chain.records,
      anchor: null,
      problem: chain.problem ?? {
        seq: 0,
        kind: 'anchor',
        message:
          `${t.title}: the anchor file ${reading.file} is missing although this home has a device key (${key.file}): it was deleted, so ` +
          `the ${t.title} cannot be checked against a signed checkpoint. Nothing was changed. If you know why it is gone, anchor the current state with ${RESET}`,
      },
    };
  }
  if (reading.state === 'invalid') {
    return {
      ok: false,
      records: chain.records,
      anchor: null,
      problem: chain.problem ?? {
        seq: 0,
        kind: 'anchor',
        message: `${t.title}: the anchor file ${reading.file} cannot be trusted: ${reading.reason}. Nothing was changed; to anchor the current state anyway, run ${RESET}`,
      },
    };
  }
  const ck = reading.checkpoint.body;
  const anchor = summary(ck, log.log);
  if (!chain.ok) return { ...chain, anchor };
  const d = divergence(log.log, ck, log.lastRecord(), (s) => log.hashAt(s));
  if (d) return { ok: false, records: chain.records, problem: d, anchor };
  return { ...chain, anchor, unanchored: chain.records - ck.logs[log.log].seq };
}

export interface DeviceAnchorOptions {
  log?: (level: 'info' | 'warning' | 'error', message: string) => void;
}

/** The daemon's anchor: owns the open anchor file and signs checkpoints as the logs grow. */
export class DeviceAnchor {
  #file: AnchorFile | null = null;
  #current: SignedCheckpoint | null = null;
  #want: Record<ChainedLog, ChainHead>;
  readonly held: Partial<Record<ChainedLog, string>> = {};
  readonly #logs = new Map<ChainedLog, AnchorableLog>();
  #queued: Promise<void> | null = null;
  #inFlight: Promise<void> | null = null;
  #closed = false;

  private constructor(
    readonly home: string,
    readonly key: DeviceKey,
    private readonly store: AnchorStoreReader,
    private readonly say: NonNullable<DeviceAnchorOptions['log']>,
  ) {
    this.#want = { audit: { ...EMPTY_HEAD }, egress: { ...EMPTY_HEAD } };
  }

  /**
   * Loads (or, for a home that never had one, creates) the device key and the anchor file. A home
   * whose key exists but whose anchor is gone or invalid, or whose store is behind its anchor, opens
   * held: the daemon runs, verify reports the problem, nothing new is signed over it.
   */
  static async open(home: string, store: AnchorStoreReader, opts: DeviceAnchorOptions = {}): Promise<DeviceAnchor> {
    const say = opts.log ?? (() => undefined);
    const { key, created } = ensureDeviceKey(home);
    const a = new DeviceAnchor(home, key, store, say);
    const reading = readAnchor(home, key);
    const heads = storeHeads(store);
    if (reading.state === 'missing' && created) {
      const body = nextBody(null, key, heads, {
        kind: 'first-anchor',
        detail: `first checkpoint of this home (audit ${heads.audit.seq}, egress ${heads.egress.seq}); records before it are only as trustworthy as the store was`,
      });
      const ck = signCheckpoint(body, key);
      writeAnchorFile(home, ck);
      say('info', `anchor: created device key ${key.fingerprint} and the first checkpoint (audit log at ${heads.audit.seq}, egress ledger at ${heads.egress.seq})`);
      a.#current = ck;
    } else if (reading.state === 'ok') {
      a.#current = reading.checkpoint;
      for (const n of reading.notes) say('warning', `anchor ${reading.file}: ${n}`);
    } else {
      const why = reading.state === 'missing' ? `the anchor file ${reading.file} is missing although the device key exists` : `the anchor file ${reading.file} is invalid: ${reading.reason}`;
      for (const log of CHAINED_LOGS) a.held[log] = why;
      say('error', `anchor: ${why}; no checkpoint will be signed until this is resolved (\`hearth audit verify\`, \`hearth egress verify\`, then ${RESET})`);
      return a;
    }
    const body = a.#current.body;
    for (const log of CHAINED_LOGS) {
      const d = divergence(log, body, heads[log], (s) => hashAtIn(store, log, s));
      if (d) {
        a.held[log] = d.message;
        say('error', `anchor: ${d.message}. No checkpoint will be signed for the ${LOG_TABLE[log].title} until you decide: \`hearth ${log} verify\` shows it, ${RESET} accepts the store as it is`);
      }
    }
    a.#want = { audit: { ...body.logs.audit }, egress: { ...body.logs.egress } };
    a.#file = await AnchorFile.open(home, {
      onSyncError: (e) => say('error', `anchor: the anchor file could not be synced to disk (${e.message}); the last checkpoints are written but not yet durable, retried at the next checkpoint`),
    });
    return a;
  }

  /** Signs a checkpoint after each of the log's durable appends (skipped while the log is held). */
  attach(log: AnchorableLog): void {
    this.#logs.set(log.log, log);
    log.onAppended((head) => this.advance(log.log, head));
  }

  /** The last signed checkpoint (what an export carries). */
  async checkpoint(): Promise<SignedCheckpoint | null> {
    await this.flush();
    return this.#current;
  }

  advance(log: ChainedLog, head: ChainHead): Promise<void> {
    if (this.#closed || this.held[log] || !this.#file) return Promise.resolve();
    if (head.seq <= this.#want[log].seq) return this.#queued ?? Promise.resolve();
    this.#want[log] = { ...head };
    return this.schedule();
  }

  /** Resolves when every checkpoint asked for so far is on disk. */
  async flush(): Promise<void> {
    await this.#queued?.catch(() => undefined);
    await this.#inFlight?.catch(() => undefined);
    await this.#file?.synced().catch(() => undefined); // the last checkpoint's fdatasync (see AnchorFile)
  }

  /** The log's chain and the checkpoint on disk (read back and checked, not the one in memory). */
  async verify(log: ChainedLog): Promise<VerifyResult> {
    await this.flush();
    const l = this.#logs.get(log);
    if (!l) throw new Error(`the ${LOG_TABLE[log].title} is not open in this daemon`);
    const key = readDeviceKey(this.home);
    const reading = readAnchor(this.home, key);
    const mem = this.#current?.body.counter ?? 0;
    if (reading.state === 'ok' && reading.checkpoint.body.counter < mem) {
      return {
        ...l.verify(),
        ok: false,
        anchor: summary(reading.checkpoint.body, log),
        problem: {
          seq: 0,
          kind: 'anchor',
          message: `the anchor file ${reading.file} holds checkpoint #${reading.checkpoint.body.counter}, but this daemon signed #${mem}: an older copy of the anchor file was put back`,
        },
      };
    }
    return checkLog(l, reading, key);
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#file?.close().catch(() => undefined);
    this.#file = null;
  }

  private schedule(): Promise<void> {
    if (!this.#queued) {
      const prev = this.#inFlight;
      this.#queued = (async () => {
        await prev?.catch(() => undefined);
        this.#queued = null; // advances from here on need the next checkpoint
        const p = this.writeNow();
        this.#inFlight = p;
        try {
          await p;
        } finally {
          if (this.#inFlight === p) this.#inFlight = null;
        }
      })();
    }
    return this.#queued;
  }

  private async writeNow(): Promise<void> {
    if (!this.#file || !this.#current) return;
    const body = nextBody(this.#current.body, this.key, this.#want);
    const ck = signCheckpoint(body, this.key);
    try {
      await this.#file.write(ck);
      this.#current = ck;
    } catch (e) {
      // The records are durable in the store; only their checkpoint is missing (verify shows them as not yet anchored).
      this.say('error', `anchor: checkpoint #${body.counter} could not be written (${(e as Error).message}); the records are stored but not anchored yet`);
    }
  }
}

/**
 * Replaces the anchor with one for the store's current state (daemon stopped): after the user
 * decided that what the store holds now is what they want anchored. The counter keeps growing.
 */
export function reanchor(
  home: string,
  store: AnchorStoreReader,
  event: Omit<AnchorEvent, 'counter' | 'time'>,
): { previous: CheckpointBody | null; checkpoint: SignedCheckpoint; key: DeviceKey; keyCreated: boolean } {
  const { key, created } = ensureDeviceKey(home);
  const before = readAnchor(home, key);
  const previous = before.state === 'ok' ? before.checkpoint.body : null;
  const counter = Math.max(previous?.counter ?? 0, highestCounter(home));
  const body = nextBody({ counter, events: previous?.events ?? [] }, key, storeHeads(store), event);
  const ck = signCheckpoint(body, key);
  writeAnchorFile(home, ck);
  return { previous, checkpoint: ck, key, keyCreated: created };
}
