// GGUF fill-in-the-middle: node-llama-cpp called directly vs through GgufProvider, in the same run,
// on the committed tiny LLaMA. Prints p50/p99 of each and the ratio of the p50s (target <= 1.1: the
// provider's checks, queue and cancellation plumbing must cost next to nothing next to inference).
//
//   node --import tsx bench/infill.ts [iterations]
import { fileURLToPath } from 'node:url';
import { LlamaCompletion } from 'node-llama-cpp';
import { GgufProvider, getSharedLlama } from '../core/engines/gguf.js';

const MODEL = fileURLToPath(new URL('../test/fixtures/models/tiny-llama-fim.gguf', import.meta.url));

export interface InfillBenchResult {
  iterations: number;
  maxTokens: number;
  directP50Ms: number;
  directP99Ms: number;
  providerP50Ms: number;
  providerP99Ms: number;
  /** provider p50 / direct p50 */
  ratio: number;
}

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Cursor positions in a small source file: a different prefix/suffix pair each iteration. */
function inputs(n: number): { prefix: string; suffix: string }[] {
  const lines = Array.from({ length: 40 }, (_, i) => `  const v${i} = compute(v${i > 0 ? i - 1 : 0}, ${i * 7});`);
  const text = `export function work() {\n${lines.join('\n')}\n  return v39;\n}\n`;
  return Array.from({ length: n }, (_, i) => {
    const at = Math.floor(((i * 7919) % 997) / 997 * text.length);
    return { prefix: text.slice(0, at), suffix: text.slice(at) };
  });
}

export async function run(opts: { iterations?: number; maxTokens?: number; log?: (line: string) => void } = {}): Promise<InfillBenchResult> {
  const iterations = opts.iterations ?? 40;
  const maxTokens = opts.maxTokens ?? 16;
  const log = opts.log ?? ((l: string) => console.log(l));
  const threads = 1; // same for both; one thread keeps the two measurements from fighting over 2 cores

  const llama = await getSharedLlama();
  const model = await llama.loadModel({ modelPath: MODEL, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: 256, threads });
  const direct = new LlamaCompletion({ contextSequence: context.getSequence() });
  const provider = new GgufProvider({ modelPath: MODEL, contextSize: 256, threads });

  const work = inputs(iterations);
  const warm = inputs(3);
  for (const w of warm) {
    await direct.generateInfillCompletion(w.prefix, w.suffix, { maxTokens, temperature: 0 });
    await provider.complete({ ...w, maxTokens });
  }
  const directMs: number[] = [];
  const providerMs: number[] = [];
  for (let i = 0; i < work.length; i++) {
    const w = work[i]!;
    // alternate which side goes first so neither always runs on a warmer cache
    const order = i % 2 === 0 ? ['direct', 'provider'] : ['provider', 'direct'];
    for (const side of order) {
      const t0 = performance.now();
      if (side === 'direct') await direct.generateInfillCompletion(w.prefix, w.suffix, { maxTokens, temperature: 0 });
      else await provider.complete({ ...w, maxTokens });
      (side === 'direct' ? directMs : providerMs).push(performance.now() - t0);
    }
  }
  direct.dispose();
  await context.dispose();
  await model.dispose();
  await provider.dispose();

  const result: InfillBenchResult = {
    iterations, maxTokens,
    directP50Ms: percentile(directMs, 50), directP99Ms: percentile(directMs, 99),
    providerP50Ms: percentile(providerMs, 50), providerP99Ms: percentile(providerMs, 99),
    ratio: percentile(providerMs, 50) / percentile(directMs, 50),
  };
  log(`infill (tiny LLaMA GGUF, ${iterations} iterations, ${maxTokens} tokens max, ${threads} thread)`);
  log(`  node-llama-cpp direct   p50 ${result.directP50Ms.toFixed(2)} ms   p99 ${result.directP99Ms.toFixed(2)} ms`);
  log(`  through GgufProvider    p50 ${result.providerP50Ms.toFixed(2)} ms   p99 ${result.providerP99Ms.toFixed(2)} ms`);
  log(`  ratio provider/direct (p50) ${result.ratio.toFixed(3)}  (target <= 1.1)`);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = process.argv[2] ? Number(process.argv[2]) : undefined;
  await run(n !== undefined && Number.isInteger(n) && n > 0 ? { iterations: n } : {});
}
