// Helpers for the shared-memory integration tests through the real daemon (issue 7): writer
// clients (authenticated vscode-jsonrpc connections with their own client names) that pipeline
// `hearth/memory/add` and record what was acknowledged, the whole memory read back through
// `hearth/memory/export`, `hearth export` store dumps, and byte searches over the store's files.
// Built on test/helpers/daemon.ts (homes, daemons, clean-up).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ResponseError } from 'vscode-jsonrpc';
import type { HearthClient } from '../../server/client.js';
import { MemoryAdd, MemoryExport } from '../../server/protocol.js';
import type { CliResult, HearthHome } from './daemon.js';

export interface Item {
  id: string;
  seq: number;
  kind: string;
  text: string;
  workspace: string | null;
  file: { uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } | null } | null;
  client: { id: string; name: string; version: string };
  createdAt: string;
}

export interface Ack {
  /** the writer's own counter: the order in which it sent its items */
  n: number;
  id: string;
  seq: number;
}

/**
 * One client writing memory items `text(n)` for n = from, from+1, ... over its own connection,
 * keeping up to `window` requests in flight (the daemon allows 64 per connection). Each reply is
 * recorded in `acks` the moment it arrives. Stops after `count` items, on `stop()`, or at the first
 * failure (a killed daemon), which it keeps in `error` instead of throwing.
 */
export class MemoryWriterClient {
  readonly acks: Ack[] = [];
  error: unknown;
  /** the counter the next item would be sent with (every lower one was sent) */
  next = 0;
  private stopped = false;

  constructor(readonly client: HearthClient, readonly name: string, readonly workspace: string | null) {}

  stop(): void {
    this.stopped = true;
  }

  /**
   * Sends the items in `resend` first (in that order), then `from` .. `from + count - 1`. With
   * `key`, each add carries `requestKey: key(n)`, as a bridge resending after a reconnect would.
   */
  async write(text: (n: number) => string, from: number, count: number, window = 16,
    opts: { key?: (n: number) => string; resend?: readonly number[] } = {}): Promise<void> {
    this.next = from;
    const end = from + count;
    const again = [...(opts.resend ?? [])];
    const lane = async (): Promise<void> => {
      while (!this.stopped && this.error === undefined && (again.length > 0 || this.next < end)) {
        const n = again.length > 0 ? again.shift()! : this.next++;
        try {
          const params = { text: text(n), kind: 'note', workspace: this.workspace, ...(opts.key ? { requestKey: opts.key(n) } : {}) };
          const item = await this.client.connection.sendRequest(MemoryAdd.method, params) as Item;
          this.acks.push({ n, id: item.id, seq: item.seq });
        } catch (err) {
          this.error ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
  }
}

/** Every memory item, oldest first, through `hearth/memory/export` (no 1,000-item list limit). */
export async function exportItems(c: HearthClient): Promise<Item[]> {
  const r = await c.connection.sendRequest(MemoryExport.method) as { format: string; version: number; items: Item[] };
  assert.equal(r.format, 'hearth-memory');
  assert.equal(r.version, 1);
  return r.items;
}

/**
 * Checks the memory's order: ids unique, seqs strictly increasing in export order; returns the
 * items by id.
 */
export function checkOrder(items: readonly Item[]): Map<string, Item> {
  const byId = new Map<string, Item>();
  let last = 0;
  for (const [i, it] of items.entries()) {
    assert.ok(it.seq > last, `export position ${i}: seq ${it.seq} does not follow ${last} (the order is not consistent)`);
    last = it.seq;
    assert.ok(!byId.has(it.id), `item ${it.id} appears twice in the export`);
    byId.set(it.id, it);
  }
  return byId;
}

/**
 * Every acknowledged item of `writer` is in `byId` exactly once (ids are unique in the export),
 * written by `writer`, with the seq the acknowledgement named, and its items' seqs follow the order
 * in which the writer sent them.
 */
export function checkAcked(byId: ReadonlyMap<string, Item>, writer: string, acks: readonly Ack[], text: (n: number) => string): void {
  const sorted = [...acks].sort((a, b) => a.n - b.n);
  let lastSeq = 0;
  for (const a of sorted) {
    const it = byId.get(a.id);
    assert.ok(it, `${writer}'s acknowledged item ${a.n} (${a.id}, seq ${a.seq}) is missing`);
    assert.equal(it.seq, a.seq, `${writer}'s item ${a.n}: stored seq ${it.seq}, acknowledged as ${a.seq}`);
    assert.equal(it.client.name, writer, `item ${a.id} is attributed to ${it.client.name}, not ${writer}`);
    assert.equal(it.text, text(a.n));
    assert.ok(it.seq > lastSeq, `${writer} sent item ${a.n} after an item with seq ${lastSeq}, but it got seq ${it.seq}: the client's own order was not kept`);
    lastSeq = it.seq;
  }
}

/** The JSON-RPC error a rejected request carried. */
export async function rpcError(p: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ResponseError) return err;
    throw err;
  }
  throw new Error('the request succeeded where it should have been refused');
}

export interface StoreDump {
  schemaVersion: number;
  tables: Record<string, { columns: string[]; rows: unknown[][] }>;
}

/** `hearth export FILE` (through the daemon when one runs, from the files otherwise), parsed; also the raw JSON text. */
export async function storeDump(h: HearthHome, name: string): Promise<{ dump: StoreDump; text: string }> {
  const file = path.join(h.dir, `${name}.json`);
  const r = await h.cli(['export', file]);
  assert.equal(r.code, 0, `hearth export failed: ${r.stderr}`);
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(file);
  return { dump: JSON.parse(text) as StoreDump, text };
}

/** The rows of one table of a dump as objects. */
export function rowsOf(dump: StoreDump, table: string): Array<Record<string, unknown>> {
  const t = dump.tables[table];
  assert.ok(t, `the export has no table ${table} (tables: ${Object.keys(dump.tables).join(', ')})`);
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c, r[i]])));
}

/** Every regular file under `dir` (recursively) whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: Buffer): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Runs a CLI command that must succeed; returns its stdout. */
export async function ok(h: HearthHome, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r: CliResult = await h.cli(args, opts);
  assert.equal(r.code, 0, `hearth ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a CLI command printing JSON that must succeed; returns it parsed. */
export async function okJson<T>(h: HearthHome, args: string[]): Promise<T> {
  return JSON.parse(await ok(h, args)) as T;
}
