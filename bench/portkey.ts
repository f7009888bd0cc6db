// The egress gate's added latency against the Portkey AI gateway's, on the same loopback request.
// One stub OpenAI-compatible server on 127.0.0.1; the same 32 KB chat request (the routing bench's
// context) is sent, interleaved in one run:
//   - direct: a bare http.request to the stub (the baseline);
//   - through Portkey (@portkey-ai/gateway, installed at bench time into bench/.tools/portkey and
//     started on 127.0.0.1, x-portkey-provider: openai, x-portkey-custom-host: the stub);
//   - through Hearth's EgressGate.send as the daemon builds it: a StoreLedger over a real store in a
//     temporary home (every entry fdatasync'd before the response is handed back), the device-key
//     anchor attached (a signed checkpoint after each durable append), redaction of the body.
// Target: the gate's added p50 is at most half of Portkey's. Without npm or the registry the bench
// prints why and returns { skipped: true }.
//   node --import tsx bench/portkey.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DeviceAnchor } from '../core/anchor/index.js';
import { EgressGate, StoreGrants, StoreLedger } from '../core/egress/index.js';
import { compileUserPolicy, parsePolicyText } from '../core/policy/index.js';
import { descriptorsFromPolicy, planRoute, renderContext } from '../core/routing/index.js';
import { Store } from '../core/store/index.js';
import { makeContext, type Stats } from './routing.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const VERSION = '1.15.2';
const TOOLS = path.join(here, '.tools', 'portkey');
const START = path.join(TOOLS, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');

export type PortkeyBenchResult =
  | { skipped: true; reason: string }
  | {
      skipped: false;
      bodyBytes: number;
      iterations: number;
      direct: Stats;
      portkey: Stats;
      gate: Stats;
      portkeyAddedP50Ms: number;
      gateAddedP50Ms: number;
      portkeyAddedP99Ms: number;
      gateAddedP99Ms: number;
      /** gate added p50 / Portkey added p50; the target is ≤ 0.5. */
      ratio: number;
      targetMet: boolean;
      ledgerEntries: number;
    };

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

/** Installs the gateway into bench/.tools/portkey unless it is there; the reason when it cannot. */
function ensurePortkey(log: (s: string) => void): string | null {
  if (fs.existsSync(START)) return null;
  log(`portkey bench: installing @portkey-ai/gateway@${VERSION} into ${path.relative(process.cwd(), TOOLS)} ...`);
  fs.mkdirSync(TOOLS, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', TOOLS, '--no-audit', '--no-fund', `@portkey-ai/gateway@${VERSION}`], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.error) return `npm could not run: ${r.error.message}`;
  if (r.status !== 0) return `npm install failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
  if (!fs.existsSync(START)) return `npm install finished but ${START} is missing`;
  return null;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const r = http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    r.on('error', reject);
    r.setTimeout(2000, () => r.destroy(new Error('timeout')));
  });
}

/** Starts the gateway on 127.0.0.1 and waits (20 s at most) until it answers. */
async function startPortkey(): Promise<{ url: string; child: ChildProcess } | { error: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--require', path.join(here, 'portkey-loopback.cjs'), START, `--port=${port}`, '--headless'], {
    cwd: TOOLS,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return { error: `the gateway exited (code ${child.exitCode}): ${out.trim().slice(-500)}` };
    const r = await get(`${url}/`).catch(() => null);
    if (r?.status === 200) return { url, child };
    await new Promise((res) => setTimeout(res, 100));
  }
  child.kill();
  return { error: `the gateway did not answer on ${url} within 20 s: ${out.trim().slice(-500)}` };
}

/** A stub OpenAI-compatible server: reads the body, answers one fixed chat completion. */
async function startStub(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const reply = Buffer.from(
    JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion', created: 0, model: 'bench', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
  );
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      n++;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(reply.length) });
      res.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => n,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** POSTs `payload` and reads the whole answer; throws unless it is a 200. */
function post(url: string, payload: Buffer, headers: Record<string, string> = {}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const r = http.request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
    });
    r.on('error', reject);
    r.end(payload);
  });
}

export async function run(opts: { iterations?: number; log?: (s: string) => void } = {}): Promise<PortkeyBenchResult> {
  const H = opts.iterations ?? 600;
  const log = opts.log ?? ((s: string) => console.log(s));
  const skip = (reason: string): PortkeyBenchResult => {
    log(`portkey bench: SKIPPED: ${reason}`);
    return { skipped: true, reason };
  };
  const missing = ensurePortkey(log);
  if (missing) return skip(`@portkey-ai/gateway@${VERSION} cannot be installed (${missing}); the gate-vs-Portkey comparison needs the npm registry`);
  const stub = await startStub();
  const pk = await startPortkey();
  if ('error' in pk) {
    await stub.close();
    return skip(`the Portkey gateway did not start: ${pk.error}`);
  }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-portkey-'));
  const store = await Store.open(path.join(home, 'store'));
  const anchor = await DeviceAnchor.open(home, store);
  try {
    // The gate as server/features.ts builds it.
    const ledger = new StoreLedger(store);
    anchor.attach(ledger);
    const gate = new EgressGate({ ledger, grants: new StoreGrants(store), confirm: async () => 'deny' });

    const policy = compileUserPolicy(
      parsePolicyText(`providers:\n  - id: stub\n    kind: openai\n    baseUrl: ${stub.url}/v1\n    model: bench\n    location: cloud\ndefault:\n  cloud: allow\n`, 'bench-policy.yaml'),
    );
    const plan = await planRoute({ feature: 'chat', pieces: makeContext(), client: 'bench', workspaceRoot: '/ws' }, policy, { providers: descriptorsFromPolicy(policy) });
    if (plan.decision !== 'allow') throw new Error(`the bench plan is ${plan.decision} (${plan.reason}), not allow`);
    const body = { model: 'bench', messages: [{ role: 'user', content: renderContext(plan) }], max_tokens: 16, stream: false };
    const payload = Buffer.from(JSON.stringify(body));
    const auth = { authorization: 'Bearer sk-bench-not-a-key' };
    const target = `${stub.url}/v1/chat/completions`;

    const paths = {
      direct: () => post(target, payload, auth),
      portkey: () => post(`${pk.url}/v1/chat/completions`, payload, { ...auth, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${stub.url}/v1` }),
      gate: async () => {
        const res = await gate.send({ plan, url: target, body, headers: auth });
        if (res.status !== 200) throw new Error(`gate: HTTP ${res.status}`);
        await res.text();
      },
    };
    const names = Object.keys(paths) as (keyof typeof paths)[];
    // Warm-up, and proof that each path reaches the stub (one request each).
    for (let i = 0; i < 60; i++) {
      for (const n of names) {
        const before = stub.requests();
        await paths[n]();
        if (stub.requests() !== before + 1) throw new Error(`${n}: the stub saw ${stub.requests() - before} requests, not 1`);
      }
    }
    const samples: Record<keyof typeof paths, number[]> = { direct: [], portkey: [], gate: [] };
    for (let i = 0; i < H; i++) {
      // Interleaved, and the order rotated, so each path sees the same load and no fixed neighbour.
      for (let j = 0; j < names.length; j++) {
        const n = names[(i + j) % names.length]!;
        const t = performance.now();
        await paths[n]();
        samples[n].push(performance.now() - t);
      }
    }
    await ledger.flushed();
    const verified = ledger.verify();
    if (!verified.ok) throw new Error(`the ledger does not verify after the bench: ${verified.problem?.message}`);

    const direct = stats(samples.direct);
    const portkey = stats(samples.portkey);
    const gateS = stats(samples.gate);
    const portkeyAdded = portkey.p50 - direct.p50;
    const gateAdded = gateS.p50 - direct.p50;
    const ratio = gateAdded / portkeyAdded;
    const targetMet = portkeyAdded > 0 && gateAdded <= portkeyAdded / 2;
    const f = (x: number) => x.toFixed(3);
    log(`portkey bench: ${payload.length} B chat request to a stub on 127.0.0.1, ${H} interleaved rounds; gate with durable StoreLedger + anchor (${verified.records} entries, chain verified)`);
    log(`  direct http.request                       p50 ${f(direct.p50)} ms  p99 ${f(direct.p99)} ms`);
    log(`  via Portkey gateway ${VERSION}               p50 ${f(portkey.p50)} ms  p99 ${f(portkey.p99)} ms  -> added p50 ${f(portkeyAdded)} ms, p99 ${f(portkey.p99 - direct.p99)} ms`);
    log(`  via Hearth egress gate (durable ledger)   p50 ${f(gateS.p50)} ms  p99 ${f(gateS.p99)} ms  -> added p50 ${f(gateAdded)} ms, p99 ${f(gateS.p99 - direct.p99)} ms`);
    log(`  gate/Portkey added p50 ratio ${ratio.toFixed(2)} (target ≤ 0.50: gate added ≤ +${f(portkeyAdded / 2)} ms): ${targetMet ? 'target met' : 'target MISSED'}`);
    return {
      skipped: false, bodyBytes: payload.length, iterations: H, direct, portkey, gate: gateS,
      portkeyAddedP50Ms: portkeyAdded, gateAddedP50Ms: gateAdded, portkeyAddedP99Ms: portkey.p99 - direct.p99, gateAddedP99Ms: gateS.p99 - direct.p99,
      ratio, targetMet, ledgerEntries: verified.records,
    };
  } finally {
    pk.child.kill();
    await anchor.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    await stub.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
  process.exit(0); // the stub's and gateway's sockets may linger
}
