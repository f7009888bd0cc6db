// Route planning + redaction on a 32 KB context, against baselines measured in the same run
// (JSON.stringify of the same context, sha256 of it), and the egress gate's added latency
// against a direct http.request to the same scripted server.
//   node --import tsx bench/routing.ts
import { createHash } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { EgressGate, MemoryLedger } from '../core/egress/index.js';
import { compileUserPolicy, parsePolicyText } from '../core/policy/index.js';
import { descriptorsFromPolicy, planRoute, renderContext, type ContextPiece, type ProviderDescriptor } from '../core/routing/index.js';
import { startScriptedServer } from '../test/helpers/scripted-openai.js';

export interface Stats {
  p50: number;
  p99: number;
  mean: number;
  n: number;
}
export interface RoutingBenchResult {
  contextBytes: number;
  planCloud: Stats;
  planLocal: Stats;
  baselineJson: Stats;
  baselineSha256: Stats;
  /** Plain CPU work of about the plan's p50 duration: shows how much of a p99 is the machine's noise. */
  baselineSameDuration: Stats;
  direct: Stats;
  gate: Stats;
  gateAddedP50Ms: number;
  gateAddedP99Ms: number;
  targetP99Ms: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

async function time(n: number, fn: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** A 32 KB editor context: the buffer around the cursor, two open files, a memory item, a .env. */
export function makeContext(totalBytes = 32 * 1024): ContextPiece[] {
  const line = (i: number) => `export function handler${i}(req: Request, res: Response) { return res.json({ id: ${i}, ok: true }); }\n`;
  const code = (bytes: number, seed: number) => {
    let s = '';
    for (let i = seed; s.length < bytes; i++) s += line(i);
    return s.slice(0, bytes);
  };
  const planted = `const aws = "AKIAQ3EGRT7VXPJ2NMZK";\n`;
  const env = 'DATABASE_URL=postgres://u:p@db/prod\nAPI_TOKEN=abcdefghijklmnop\n';
  const rest = totalBytes - planted.length - env.length - 64;
  return [
    { source: { kind: 'buffer', uri: 'file:///ws/src/server.ts', client: 'vscode' }, text: code(Math.floor(rest * 0.5), 0) + planted },
    { source: { kind: 'buffer', uri: 'file:///ws/src/server.ts#suffix', client: 'vscode' }, text: code(Math.floor(rest * 0.15), 1000) },
    { source: { kind: 'file', uri: 'file:///ws/src/routes.ts' }, text: code(Math.floor(rest * 0.2), 2000) },
    { source: { kind: 'file', uri: 'file:///ws/src/util.ts', client: 'neovim' }, text: code(Math.floor(rest * 0.15), 3000) },
    { source: { kind: 'memory', uri: 'memory:7' }, text: 'Prefers early returns; uses zod for validation.' },
    { source: { kind: 'file', uri: 'file:///ws/.env' }, text: env },
  ];
}

export async function run(opts: { iterations?: number; httpIterations?: number; log?: (s: string) => void } = {}): Promise<RoutingBenchResult> {
  const N = opts.iterations ?? 2000;
  const H = opts.httpIterations ?? 400;
  const log = opts.log ?? ((s: string) => console.log(s));
  const server = await startScriptedServer(() => ({ json: { model: 'bench', choices: [{ message: { role: 'assistant', content: 'ok' } }] } }));
  try {
    const policy = compileUserPolicy(
      parsePolicyText(`providers:\n  - id: stub\n    kind: openai\n    baseUrl: ${server.url}\n    model: bench\n    location: cloud\ndefault:\n  cloud: allow\n`, 'bench-policy.yaml'),
    );
    const local: ProviderDescriptor = { id: 'ngram', kind: 'ngram', location: 'local', features: ['completion'] };
    const cloudCtx = { providers: descriptorsFromPolicy(policy) };
    const localCtx = { providers: [local, ...descriptorsFromPolicy(policy)] };
    const pieces = makeContext();
    const contextBytes = pieces.reduce((a, p) => a + Buffer.byteLength(p.text), 0);
    const req = { feature: 'completion' as const, pieces, client: 'bench', workspaceRoot: '/ws' };

    // Warm up JITs and secretlint's rule setup.
    for (let i = 0; i < 200; i++) await planRoute(req, policy, cloudCtx);
    const planCloud = stats(await time(N, () => planRoute(req, policy, cloudCtx)));
    const planLocal = stats(await time(N, () => planRoute(req, policy, localCtx)));
    const baselineJson = stats(await time(N, () => JSON.stringify(pieces)));
    const joined = pieces.map((p) => p.text).join('');
    const baselineSha256 = stats(await time(N, () => createHash('sha256').update(joined).digest('hex')));
    const reps = Math.max(1, Math.round(planCloud.p50 / Math.max(baselineSha256.p50, 0.001)));
    const baselineSameDuration = stats(
      await time(N, () => {
        for (let i = 0; i < reps; i++) createHash('sha256').update(joined).digest('hex');
      }),
    );

    // Egress: the same request body through the gate and through a bare http.request.
    const plan = await planRoute({ ...req, feature: 'chat' }, policy, cloudCtx);
    const body = { model: 'bench', messages: [{ role: 'user', content: renderContext(plan) }], max_tokens: 16, stream: false };
    const payload = Buffer.from(JSON.stringify(body));
    const gate = new EgressGate({ ledger: new MemoryLedger(), confirm: async () => 'deny' });
    const url = `${server.url}/v1/chat/completions`;
    const direct = () =>
      new Promise<void>((resolve, reject) => {
        const r = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(payload.length) } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        r.on('error', reject);
        r.end(payload);
      });
    const viaGate = async () => {
      const res = await gate.send({ plan, url, body });
      await res.text();
    };
    for (let i = 0; i < 50; i++) {
      await direct();
      await viaGate();
    }
    const d: number[] = [];
    const g: number[] = [];
    for (let i = 0; i < H; i++) {
      // Interleaved so both see the same machine load.
      d.push(...(await time(1, direct)));
      g.push(...(await time(1, viaGate)));
    }
    const directS = stats(d);
    const gateS = stats(g);
    const result: RoutingBenchResult = {
      contextBytes,
      planCloud,
      planLocal,
      baselineJson,
      baselineSha256,
      baselineSameDuration,
      direct: directS,
      gate: gateS,
      gateAddedP50Ms: gateS.p50 - directS.p50,
      gateAddedP99Ms: gateS.p99 - directS.p99,
      targetP99Ms: 2,
    };
    const f = (x: number) => x.toFixed(3);
    log(`routing bench: context ${contextBytes} bytes in ${pieces.length} pieces, ${N} iterations (egress ${H})`);
    log(`  planRoute (cloud route, with redaction)  p50 ${f(planCloud.p50)} ms  p99 ${f(planCloud.p99)} ms  (target p99 < 2 ms: ${planCloud.p99 < 2 ? 'met' : 'MISSED'})`);
    log(`  planRoute (local route, no redaction)    p50 ${f(planLocal.p50)} ms  p99 ${f(planLocal.p99)} ms`);
    log(`  baseline JSON.stringify(context)         p50 ${f(baselineJson.p50)} ms  p99 ${f(baselineJson.p99)} ms  -> plan/JSON p50 ratio ${(planCloud.p50 / baselineJson.p50).toFixed(1)}x`);
    log(`  baseline sha256(context)                 p50 ${f(baselineSha256.p50)} ms  p99 ${f(baselineSha256.p99)} ms  -> plan/sha256 p50 ratio ${(planCloud.p50 / baselineSha256.p50).toFixed(1)}x`);
    log(`  baseline sha256 x${reps} (same p50 as plan)   p50 ${f(baselineSameDuration.p50)} ms  p99 ${f(baselineSameDuration.p99)} ms  (machine noise at this duration)`);
    log(`  direct http.request (${payload.length} B body)    p50 ${f(directS.p50)} ms  p99 ${f(directS.p99)} ms`);
    log(`  via egress gate (redact+hash+ledger)     p50 ${f(gateS.p50)} ms  p99 ${f(gateS.p99)} ms  -> added p50 ${f(result.gateAddedP50Ms)} ms, p99 ${f(result.gateAddedP99Ms)} ms, ratio ${(gateS.p50 / directS.p50).toFixed(2)}x`);
    return result;
  } finally {
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
