// The hostage scenario of issue 11 (must-show 6), shared by test/integration/daemon-hostage.test.ts
// and bench/hostage.ts: a real daemon; IDLE raw connections that never say hello; one client that
// opens DOCUMENTS ordinary documents and BIG near-cap (8 MiB) ones; and a well-behaved client whose
// `hearth/status` latency is measured the whole time, plus the daemon's RSS.
import fs from 'node:fs';
import { frameBytes, makeHome, sleep, type HearthHome, type RawConn } from './daemon.js';
import { Status } from '../../server/protocol.js';

export interface HostageOptions {
  idle: number;
  documents: number;
  big: number;
  /** body bytes of each big didOpen message (default: 8 MiB minus 2 KiB, just under the cap) */
  bigBytes?: number;
  helloTimeoutMs: number;
  /** status calls measured before any load (the baseline) */
  baselineCalls?: number;
  log?: (line: string) => void;
}

export interface HostageResult {
  idle: number;
  documents: number;
  big: number;
  bigBytes: number;
  helloTimeoutMs: number;
  /** idle connections the daemon closed, and when (ms after each was opened) */
  idleClosed: number;
  idleClosedAfterMs: { min: number; max: number };
  /** the error the daemon sent an idle connection before closing it */
  idleReason: string | undefined;
  baseline: { calls: number; p50Ms: number; p99Ms: number; maxMs: number };
  underLoad: { calls: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** documents the daemon holds for the loading client at the end */
  documentsOpen: number;
  /** ms from the first didOpen until the daemon reported all of them open */
  openAllMs: number;
  maxRssMb: number;
  rssAtEndMb: number;
}

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

function stats(samples: number[]): HostageResult['baseline'] {
  return { calls: samples.length, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), maxMs: Math.max(...samples) };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A realistic, varied source file of about `bytes` bytes (document `i`). */
export function sourceFile(i: number, bytes = 4000): string {
  const lines: string[] = [`// module ${i}: generated for the hostage scenario`, `import { helper${i % 17} } from './helpers/${i % 31}.js';`, ''];
  let n = 0;
  while (lines.join('\n').length < bytes) {
    const k = (i * 7 + n) % 97;
    lines.push(`export function handle${i}_${n}(input${k}: number, name: string): string {`);
    lines.push(`  const value = helper${i % 17}(input${k} * ${k + 1}) + ${n};`);
    lines.push(`  if (value > ${k * 13}) return \`\${name}: \${value}\`;`);
    lines.push(`  return name.repeat(${(k % 3) + 1});`, '}', '');
    n++;
  }
  return lines.join('\n');
}

/** A didOpen message whose framed body is exactly `bodyBytes` long (ASCII text). */
function bigOpen(uri: string, bodyBytes: number): Buffer {
  const head = { jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'typescript', version: 1, text: '' } } };
  const overhead = Buffer.byteLength(JSON.stringify(head));
  const line = 'const filler = 0x0123456789abcdef; // padding to just under the message cap\n';
  const lineJson = line.length + 1; // the newline is written as two bytes in JSON
  let text = line.repeat(Math.floor((bodyBytes - overhead) / lineJson));
  text += 'x'.repeat(bodyBytes - overhead - Buffer.byteLength(JSON.stringify(text)) + 2);
  head.params.textDocument.text = text;
  if (Buffer.byteLength(JSON.stringify(head)) !== bodyBytes) throw new Error('bigOpen: body size computed wrongly');
  return frameBytes(head);
}

export async function hostageScenario(o: HostageOptions): Promise<HostageResult> {
  const log = o.log ?? (() => undefined);
  const bigBytes = o.bigBytes ?? 8 * 1024 * 1024 - 2048;
  const h: HearthHome = makeHome('hostage');
  const idle: Array<{ c: RawConn; openedAt: number; closedAt?: number; reason?: string }> = [];
  try {
    const d = await h.spawnDaemon(30_000, { env: { HEARTH_HELLO_TIMEOUT_MS: String(o.helloTimeoutMs), ...(process.env.HOSTAGE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HOSTAGE_NODE_OPTIONS } : {}) } });
    const good = await h.connect({ name: 'well-behaved', version: '1', kind: 'test' });
    const status = async (): Promise<{ ms: number; docs: number }> => {
      const t = performance.now();
      const s = await good.connection.sendRequest(Status.method) as { clients: Array<{ name: string; documents: unknown[]; documentCount?: number }> };
      const loader = s.clients.find((c) => c.name === 'loader');
      return { ms: performance.now() - t, docs: loader?.documentCount ?? loader?.documents.length ?? 0 };
    };
    const baseline: number[] = [];
    for (let i = 0; i < (o.baselineCalls ?? 100); i++) baseline.push((await status()).ms);
    log(`baseline: ${JSON.stringify(stats(baseline))}`);

    let maxRss = rssMb(d.pid);
    const rssTimer = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, rssMb(d.pid));
      } catch {
        // exited
      }
    }, 50);
    try {
      for (let i = 0; i < o.idle; i++) {
        const c = await h.raw();
        const e: (typeof idle)[number] = { c, openedAt: performance.now() };
        void c.whenClosed.then(() => {
          e.closedAt = performance.now();
          const first = c.received[0];
          e.reason = first?.error?.message;
        });
        idle.push(e);
      }
      log(`${o.idle} idle connections open`);

      // The loading client: authenticated, then everything written at once.
      const loader = await h.raw();
      const hello = await loader.hello(h.token(), { name: 'loader', version: '1', kind: 'test' });
      if (hello.error) throw new Error(`loader hello: ${JSON.stringify(hello.error)}`);
      const loadStart = performance.now();
      const frames: Buffer[] = [];
      for (let i = 0; i < o.documents; i++) {
        frames.push(frameBytes({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: `file:///hostage/src/m${i}.ts`, languageId: 'typescript', version: 1, text: sourceFile(i) } } }));
      }
      for (let i = 0; i < o.big; i++) frames.push(bigOpen(`file:///hostage/big${i}.ts`, bigBytes));
      loader.write(Buffer.concat(frames));

      const under: number[] = [];
      let openAllMs = NaN;
      let docs = 0;
      const deadline = Date.now() + o.helloTimeoutMs + 90_000;
      // Measure until every document is open, every idle connection is closed, and 3 s more
      // (deferred work: the n-gram engine learns after 250 ms of quiet).
      let settledAt: number | undefined;
      while (Date.now() < deadline) {
        const r = await status();
        under.push(r.ms);
        docs = r.docs;
        if (Number.isNaN(openAllMs) && docs === o.documents + o.big) openAllMs = performance.now() - loadStart;
        const allClosed = idle.every((e) => e.closedAt !== undefined);
        if (!Number.isNaN(openAllMs) && allClosed) settledAt ??= Date.now();
        if (settledAt !== undefined && Date.now() - settledAt > 3000) break;
        await sleep(10);
      }
      const closed = idle.filter((e) => e.closedAt !== undefined);
      const after = closed.map((e) => e.closedAt! - e.openedAt);
      const result: HostageResult = {
        idle: o.idle,
        documents: o.documents,
        big: o.big,
        bigBytes,
        helloTimeoutMs: o.helloTimeoutMs,
        idleClosed: closed.length,
        idleClosedAfterMs: { min: after.length ? Math.min(...after) : NaN, max: after.length ? Math.max(...after) : NaN },
        idleReason: closed.find((e) => e.reason)?.reason,
        baseline: stats(baseline),
        underLoad: stats(under),
        documentsOpen: docs,
        openAllMs,
        maxRssMb: maxRss,
        rssAtEndMb: rssMb(d.pid),
      };
      log(JSON.stringify(result));
      return result;
    } finally {
      clearInterval(rssTimer);
    }
  } finally {
    for (const e of idle) e.c.destroy();
    await h.dispose();
  }
}
