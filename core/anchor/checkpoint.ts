// Signed checkpoints and the anchor file that keeps them outside the store.
//
// A checkpoint says, signed with the device key: at `time`, the audit log had reached record
// `logs.audit.seq` with hash `logs.audit.hash`, and the egress ledger `logs.egress`. `counter`
// grows by one with every checkpoint and never goes back, whatever happens to the store (an
// import, a restored copy); `events` remembers the last decisions that moved a head backwards or
// onto another history (an accepted rollback, an adopted export, a reset).
//
// The anchor file, $HEARTH_HOME/anchor/checkpoint (0600, directory 0700), is two 4096-byte slots.
// Each slot: magic "HEARTHA1", u32 LE length, u32 LE CRC-32 of the JSON, the signed checkpoint as
// UTF-8 JSON, zero padding. A running daemon writes each checkpoint with one pwrite into one slot
// and makes it durable with an fdatasync at most ANCHOR_SYNC_LAG_MS later (AnchorFile below); the
// other slot always holds a checkpoint already on disk, so a torn write can only damage the slot
// being written, and what remains is behind the store, never ahead of it. The file itself is created by an atomic write
// (temp file, fsync, rename, fsync of the directory).
import { sign as edSign, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { CHAINED_LOGS, canonicalJson, type ChainHead, type ChainedLog } from './chain.js';
import { publicKeyFromB64, type DeviceKey } from './key.js';

export const ANCHOR_DIR = 'anchor';
export const ANCHOR_FILE = 'checkpoint';
export const SLOT_BYTES = 4096;
const MAGIC = Buffer.from('HEARTHA1', 'latin1');
const PREFIX = MAGIC.length + 8;
const MAX_EVENTS = 8;

export interface AnchorEvent {
  counter: number;
  time: string;
  kind: 'adopted' | 'rollback-accepted' | 'altered-accepted' | 'reset' | 'first-anchor';
  detail: string;
}

export interface CheckpointBody {
  format: 'hearth-checkpoint';
  version: 1;
  /** Fingerprint of the signing key. */
  device: string;
  /** The signing public key, base64 SPKI DER. */
  publicKey: string;
  counter: number;
  time: string;
  logs: Record<ChainedLog, ChainHead>;
  events: AnchorEvent[];
}

export interface SignedCheckpoint {
  body: CheckpointBody;
  /** Ed25519 signature (base64) over canonicalJson(body). */
  signature: string;
}

export function anchorPath(home: string): string {
  return path.join(home, ANCHOR_DIR, ANCHOR_FILE);
}

export function signCheckpoint(body: CheckpointBody, key: DeviceKey): SignedCheckpoint {
  return { body, signature: edSign(null, Buffer.from(canonicalJson(body)), key.privateKey).toString('base64') };
}

/**
 * Checks shape and signature of an untrusted checkpoint. With `key`, it must be signed by that key;
 * without, by the key it names (which only proves it was not changed after signing, not who signed).
 * Returns the reason it is not valid, or null.
 */
export function checkpointProblem(value: unknown, key?: DeviceKey): string | null {
  if (typeof value !== 'object' || value === null) return 'it is not a JSON object';
  const { body, signature } = value as Partial<SignedCheckpoint>;
  if (typeof body !== 'object' || body === null || typeof signature !== 'string') return 'it lacks "body" or "signature"';
  if (body.format !== 'hearth-checkpoint' || body.version !== 1) return `it is not a version 1 hearth-checkpoint`;
  if (!Number.isSafeInteger(body.counter) || body.counter < 1) return 'its counter is not a positive integer';
  if (typeof body.time !== 'string' || typeof body.device !== 'string' || typeof body.publicKey !== 'string') return 'it lacks time, device or publicKey';
  if (!Array.isArray(body.events)) return 'it lacks its events list';
  for (const log of CHAINED_LOGS) {
    const h = body.logs?.[log];
    if (!h || !Number.isSafeInteger(h.seq) || h.seq < 0 || typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) return `its ${log} head is malformed`;
  }
  if (key && body.publicKey !== key.publicKeyB64) return `it was signed by device ${body.device}, not by this home's device key ${key.fingerprint}`;
  let ok = false;
  try {
    ok = edVerify(null, Buffer.from(canonicalJson(body)), publicKeyFromB64(body.publicKey), Buffer.from(signature, 'base64'));
  } catch (e) {
    return `its public key or signature cannot be read (${(e as Error).message})`;
  }
  return ok ? null : 'its signature does not verify: it was changed after it was signed';
}

export function nextBody(prev: Pick<CheckpointBody, 'counter' | 'events'> | null, key: DeviceKey, logs: Record<ChainedLog, ChainHead>, event?: Omit<AnchorEvent, 'counter' | 'time'>, now = new Date()): CheckpointBody {
  const counter = (prev?.counter ?? 0) + 1;
  const time = now.toISOString();
  const events = [...(prev?.events ?? []), ...(event ? [{ counter, time, ...event, detail: event.detail.slice(0, 300) }] : [])].slice(-MAX_EVENTS);
  return {
    format: 'hearth-checkpoint',
    version: 1,
    device: key.fingerprint,
    publicKey: key.publicKeyB64,
    counter,
    time,
    logs: { audit: { ...logs.audit }, egress: { ...logs.egress } },
    events,
  };
}

function encodeSlot(ck: SignedCheckpoint): Buffer {
  const json = Buffer.from(JSON.stringify(ck), 'utf8');
  if (PREFIX + json.length > SLOT_BYTES) throw new Error(`checkpoint is ${json.length} bytes, more than a ${SLOT_BYTES}-byte slot holds`);
  const slot = Buffer.alloc(SLOT_BYTES);
  MAGIC.copy(slot, 0);
  slot.writeUInt32LE(json.length, MAGIC.length);
  slot.writeUInt32LE(crc32(json), MAGIC.length + 4);
  json.copy(slot, PREFIX);
  return slot;
}

type SlotReading = { state: 'empty' } | { state: 'torn'; reason: string } | { state: 'ok'; value: unknown };

function decodeSlot(buf: Buffer): SlotReading {
  if (buf.length < PREFIX || buf.subarray(0, PREFIX).every((b) => b === 0)) return { state: 'empty' };
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return { state: 'torn', reason: 'bad magic' };
  const len = buf.readUInt32LE(MAGIC.length);
  if (PREFIX + len > buf.length) return { state: 'torn', reason: `length ${len} runs past the slot` };
  const json = buf.subarray(PREFIX, PREFIX + len);
  if (crc32(json) !== buf.readUInt32LE(MAGIC.length + 4)) return { state: 'torn', reason: 'CRC mismatch' };
  try {
    return { state: 'ok', value: JSON.parse(json.toString('utf8')) };
  } catch {
    return { state: 'torn', reason: 'not JSON' };
  }
}

export type AnchorReading =
  | { state: 'missing'; file: string }
  | { state: 'invalid'; file: string; reason: string }
  | { state: 'ok'; file: string; checkpoint: SignedCheckpoint; notes: string[] };

/**
 * Reads the anchor file: the valid signed checkpoint with the highest counter. A slot whose CRC
 * is bad is a torn write (noted); a slot whose CRC is good but whose signature does not verify
 * was forged, and makes the whole file invalid.
 */
export function readAnchor(home: string, key: DeviceKey | null): AnchorReading {
  const file = anchorPath(home);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing', file };
    return { state: 'invalid', file, reason: `it cannot be read (${(e as Error).message})` };
  }
  const notes: string[] = [];
  let best: SignedCheckpoint | null = null;
  for (let i = 0; i < 2; i++) {
    const slot = decodeSlot(buf.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES));
    if (slot.state !== 'ok') {
      notes.push(`slot ${i} is ${slot.state === 'empty' ? 'empty' : `damaged (${slot.reason})`}: a checkpoint write was cut short, or the file was cut; the other slot is used`);
      continue;
    }
    const problem = key ? checkpointProblem(slot.value, key) : 'this home has no device key to check it with';
    if (problem) return { state: 'invalid', file, reason: `the checkpoint in slot ${i} is not valid: ${problem}` };
    const ck = slot.value as SignedCheckpoint;
    if (!best || ck.body.counter > best.body.counter) best = ck;
  }
  if (!best) return { state: 'invalid', file, reason: `it holds no readable checkpoint${notes.length ? ` (${notes.join('; ')})` : ''}` };
  return { state: 'ok', file, checkpoint: best, notes };
}

/**
 * The highest counter in the anchor file, signatures unchecked: a reset over an anchor that does
 * not verify still never lowers the counter. 0 when there is none.
 */
export function highestCounter(home: string): number {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(anchorPath(home));
  } catch {
    return 0;
  }
  let max = 0;
  for (let i = 0; i < 2; i++) {
    const slot = decodeSlot(buf.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES));
    const c = slot.state === 'ok' ? (slot.value as { body?: { counter?: unknown } })?.body?.counter : undefined;
    if (typeof c === 'number' && Number.isSafeInteger(c) && c > max) max = c;
  }
  return max;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces the whole anchor file atomically with one checkpoint (first anchor, reset, import). */
export function writeAnchorFile(home: string, ck: SignedCheckpoint): void {
  const file = anchorPath(home);
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory() || (st.mode & 0o077)) throw new Error(`refusing to write the anchor into ${dir}: it must be a private (0700) directory, not a link`);
  // Both slots hold it: from now on an empty or damaged slot always means a write was cut short
  // (or someone cut the file), never a file that was just made.
  const slot = encodeSlot(ck);
  const buf = Buffer.concat([slot, slot]);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, buf);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}

/** How long a checkpoint written by a running daemon may stay in the page cache before its fdatasync. */
export const ANCHOR_SYNC_LAG_MS = 50;

/**
 * The open anchor file of a running daemon. A checkpoint is written with one synchronous pwrite
 * into the *hot* slot: microseconds, visible at once to every reader of the file, and kept by the
 * kernel if this process dies. The other slot is *cold*: it always holds a checkpoint that is on
 * disk whole. At most ANCHOR_SYNC_LAG_MS after the first write into the hot slot, one fdatasync
 * makes it durable and the slots swap roles (a write that arrives during that fdatasync waits for
 * it). So the fdatasync is off the path of the appends a checkpoint covers, shared by all the
 * checkpoints of that interval, and a power loss or kernel crash can only lose the checkpoints of
 * the last interval: the file then holds the cold one, which is behind the store, never ahead.
 */
export class AnchorFile {
  #hot = 0;
  #dirty = false;
  #syncing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failure: Error | null = null;

  private constructor(
    private readonly fd: fs.promises.FileHandle,
    private readonly lagMs: number,
    private readonly onSyncError?: (e: Error) => void,
  ) {}

  static async open(home: string, opts: { lagMs?: number; onSyncError?: (e: Error) => void } = {}): Promise<AnchorFile> {
    const fd = await fs.promises.open(anchorPath(home), 'r+');
    const file = new AnchorFile(fd, opts.lagMs ?? ANCHOR_SYNC_LAG_MS, opts.onSyncError);
    // A daemon that was killed may have left its hot slot in the page cache only: sync both, then
    // make the slot with the lower counter hot, so the newest checkpoint stays cold.
    await fd.datasync();
    const buf = Buffer.alloc(2 * SLOT_BYTES);
    await fd.read(buf, 0, buf.length, 0);
    const counters = [0, 1].map((i) => {
      const r = decodeSlot(buf.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES));
      const c = r.state === 'ok' ? (r.value as { body?: { counter?: unknown } })?.body?.counter : undefined;
      return typeof c === 'number' ? c : -1;
    });
    file.#hot = counters[0]! <= counters[1]! ? 0 : 1;
    return file;
  }

  async write(ck: SignedCheckpoint): Promise<void> {
    const slot = encodeSlot(ck);
    while (this.#syncing) await this.#syncing; // the hot slot is being made durable: it must not change under that
    let off = 0;
    const at = this.#hot * SLOT_BYTES;
    while (off < slot.length) off += fs.writeSync(this.fd.fd, slot, off, slot.length - off, at + off);
    this.#dirty = true;
    this.#timer ??= setTimeout(() => void this.sync(), this.lagMs);
    this.#timer.unref?.();
  }

  /** Makes the last checkpoint written durable now (flush, close, export). Rejects if the disk refuses. */
  async synced(): Promise<void> {
    await this.sync();
    if (this.#failure) throw this.#failure;
  }

  private sync(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#syncing) return this.#syncing;
    if (!this.#dirty) return Promise.resolve();
    this.#syncing = (async () => {
      try {
        await this.fd.datasync();
        this.#dirty = false;
        this.#failure = null;
        this.#hot = 1 - this.#hot; // the slot just synced becomes the cold one
      } catch (e) {
        // The cold slot is unchanged and still on disk; the hot one is retried at the next write.
        this.#failure = e instanceof Error ? e : new Error(String(e));
        this.onSyncError?.(this.#failure);
      } finally {
        this.#syncing = null;
      }
    })();
    return this.#syncing;
  }

  async close(): Promise<void> {
    await this.sync();
    await this.fd.close();
  }
}
