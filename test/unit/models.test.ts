// Model checks (metadata only, before loading) and the model registry, including downloads from a
// local HTTP server: progress, resume after a dropped connection, checksum verification.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSharedLlama } from '../../core/engines/gguf.js';
import { GGUF_COMPLETION_ARCHITECTURES, GGUF_EMBEDDING_ARCHITECTURES } from '../../core/models/architectures.js';
import { checkModel } from '../../core/models/check.js';
import { downloadFile, DownloadError } from '../../core/models/download.js';
import { ModelRegistry, ModelRegistryError } from '../../core/models/registry.js';

const fixtures = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const GOOD = fixtures + 'tiny-llama-fim.gguf';
const NOFIM = fixtures + 'tiny-llama-nofim.gguf';
const BADARCH = fixtures + 'tiny-unsupported-arch.gguf';
const TINY_BERT = fixtures + 'tiny-bert';
const goodBytes = readFileSync(GOOD);
const goodSha = createHash('sha256').update(goodBytes).digest('hex');

describe('models: checkModel (metadata only)', function () {
  this.timeout(30_000);

  it('accepts the tiny LLaMA with FIM tokens for completion and describes it', async () => {
    const r = await checkModel(GOOD, { purpose: 'completion' });
    assert.deepEqual(r.reasons, []);
    assert.equal(r.ok, true);
    assert.equal(r.info.format, 'gguf');
    assert.equal(r.info.architecture, 'llama');
    assert.equal(r.info.contextLength, 256);
    assert.deepEqual(r.info.fim, { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>' });
    assert.ok(r.info.estimatedMemoryBytes! > goodBytes.length, 'estimate must at least cover the weights');
    assert.ok(r.warnings.some((w) => /context length is only 256/.test(w)));
  });

  it('refuses a model without FIM tokens for completion, saying why', async () => {
    const r = await checkModel(NOFIM, { purpose: 'completion' });
    assert.equal(r.ok, false);
    assert.equal(r.info.fim, null);
    assert.ok(r.reasons.some((x) => /no fill-in-the-middle tokens/.test(x)), r.reasons.join('\n'));
  });

  it('refuses an unsupported architecture, naming it', async () => {
    const r = await checkModel(BADARCH, { purpose: 'completion' });
    assert.equal(r.ok, false);
    assert.ok(r.reasons.some((x) => /architecture 'hearth-unknown-arch' is not supported for completion/.test(x)), r.reasons.join('\n'));
  });

  it('refuses a model too large for the memory budget, with both figures', async () => {
    const r = await checkModel(GOOD, { purpose: 'completion', memoryBudgetBytes: 100_000 });
    assert.equal(r.ok, false);
    assert.equal(r.reasons.length, 1);
    assert.match(r.reasons[0]!, /needs about [\d.]+ MiB of memory but only 0\.1 MiB is allowed/);
    // and the same model fits a budget just above its estimate
    const fits = await checkModel(GOOD, { purpose: 'completion', memoryBudgetBytes: r.info.estimatedMemoryBytes! + 1 });
    assert.equal(fits.ok, true);
  });

  it('refuses a completion model as an embedding model and the ONNX encoder for completion', async () => {
    const asEmbedding = await checkModel(GOOD, { purpose: 'embedding' });
    assert.equal(asEmbedding.ok, false);
    assert.ok(asEmbedding.reasons.some((x) => /'llama' is for completion, not embedding/.test(x)), asEmbedding.reasons.join('\n'));
    const onnxForCompletion = await checkModel(TINY_BERT, { purpose: 'completion' });
    assert.equal(onnxForCompletion.ok, false);
    assert.ok(onnxForCompletion.reasons.some((x) => /embeddings only/.test(x)));
  });

  it('accepts the tiny BERT ONNX directory for embeddings', async () => {
    const r = await checkModel(TINY_BERT, { purpose: 'embedding' });
    assert.deepEqual(r.reasons, []);
    assert.equal(r.info.format, 'onnx');
    assert.equal(r.info.architecture, 'bert');
    assert.equal(r.info.embeddingLength, 32);
  });

  it('explains a missing file and a file that is not GGUF', async () => {
    const missing = await checkModel(join(fixtures, 'nope.gguf'), { purpose: 'completion' });
    assert.equal(missing.ok, false);
    assert.match(missing.reasons[0]!, /cannot read .*nope\.gguf: ENOENT/);
    const notGguf = await checkModel(fixtures + 'gen-gguf.ts', { purpose: 'completion' });
    assert.equal(notGguf.ok, false);
    assert.match(notGguf.reasons[0]!, /not a readable GGUF model file/);
  });

  it('says what a non-GGUF file is, in words and hex, never with its raw bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-notgguf-'));
    try {
      const cases: Array<[string, Buffer, RegExp]> = [
        ['zip.gguf', Buffer.from('504b0304140000000800ff00fe01', 'hex'), /starts with the bytes 50 4b 03 04, not "GGUF": a ZIP archive/],
        ['page.gguf', Buffer.from('<!DOCTYPE html><html>\x01\x02'), /an HTML page/],
        ['empty.gguf', Buffer.alloc(0), /the file is empty/],
        ['noise.gguf', Buffer.from([0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x9b, 0x07, 0xff]), /starts with the bytes 00 1b 5b 32, not "GGUF"\)/],
      ];
      for (const [name, bytes, want] of cases) {
        writeFileSync(join(dir, name), bytes);
        const r = await checkModel(join(dir, name), { purpose: 'completion' });
        assert.equal(r.ok, false);
        assert.match(r.reasons[0]!, want);
        assert.doesNotMatch(r.reasons[0]!, /[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd]/, `raw control bytes in: ${JSON.stringify(r.reasons[0])}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists only architectures the bundled llama.cpp can run', async () => {
    const llama = await getSharedLlama();
    // the binding's own answer; an upgrade that drops an architecture fails here
    const bindings = (llama as unknown as { _bindings: { getIsArchSupported(a: string): boolean } })._bindings;
    for (const arch of [...GGUF_COMPLETION_ARCHITECTURES, ...GGUF_EMBEDDING_ARCHITECTURES]) {
      assert.equal(bindings.getIsArchSupported(arch), true, `llama.cpp does not support '${arch}'`);
    }
    assert.equal(bindings.getIsArchSupported('hearth-unknown-arch'), false);
  });
});

interface Hit { url: string; headers: IncomingHttpHeaders }

/** Serves fixtures; can drop the first connection half-way through, and can ignore Range. */
function startServer(opts: { dropFirstAt?: number; beforeDrop?: () => Promise<void> } = {}): Promise<{ server: Server; base: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  let dropped = false;
  const files: Record<string, Buffer> = {
    '/tiny-llama-fim.gguf': goodBytes,
    '/tiny-llama-nofim.gguf': readFileSync(NOFIM),
  };
  const server = createServer((req, res) => {
    hits.push({ url: req.url ?? '', headers: req.headers });
    const body = files[req.url ?? ''];
    if (!body) { res.writeHead(404).end('not found'); return; }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, {
      'content-length': String(slice.length),
      ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (opts.dropFirstAt !== undefined && !dropped) {
      dropped = true;
      // end the TCP stream mid-body, once the client has stored what was sent (fetch drops chunks
      // it had not yet handed over when the stream errors, which would make the resume point vary)
      res.write(slice.subarray(0, opts.dropFirstAt), () => {
        void (opts.beforeDrop ?? (async () => undefined))().then(() => res.socket?.destroy());
      });
      return;
    }
    res.end(slice);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits });
  }));
}

// The daemon hands the registry the egress gate's fetch; these unit tests of the download mechanics
// talk to their own server on 127.0.0.1 directly.
const directFetch = globalThis.fetch;

describe('models: registry and downloads', function () {
  this.timeout(30_000);
  let home: string;
  beforeEach(() => { home = mkdtempSync(join(tmpdir(), 'hearth-models-')); });
  afterEach(() => { rmSync(home, { recursive: true, force: true }); });

  it('adds a local model in place, lists it, refuses a duplicate id, and removes it without deleting the file', async () => {
    const reg = new ModelRegistry(home, { fetch: directFetch });
    assert.deepEqual(await reg.list(), []);
    const entry = await reg.addModel(GOOD, { purpose: 'completion', sha256: goodSha });
    assert.equal(entry.id, 'tiny-llama-fim');
    assert.equal(entry.path, GOOD);
    assert.equal(entry.managed, false);
    assert.equal(entry.architecture, 'llama');
    assert.equal(entry.sha256, goodSha);
    const onDisk = JSON.parse(readFileSync(join(home, 'models.json'), 'utf8'));
    assert.deepEqual(onDisk.models.map((m: { id: string }) => m.id), ['tiny-llama-fim']);
    await assert.rejects(reg.addModel(GOOD, { purpose: 'completion' }), (e: ModelRegistryError) => e.code === 'exists');
    const bert = await reg.addModel(TINY_BERT, { purpose: 'embedding' });
    assert.equal(bert.format, 'onnx');
    assert.deepEqual((await new ModelRegistry(home, { fetch: directFetch }).list()).map((m) => m.id), ['tiny-llama-fim', 'tiny-bert']);
    assert.equal(await reg.removeModel('tiny-llama-fim'), true);
    assert.equal(await reg.removeModel('tiny-llama-fim'), false);
    assert.ok(existsSync(GOOD), 'a model added from a local path must never be deleted');
    assert.deepEqual((await reg.list()).map((m) => m.id), ['tiny-bert']);
  });

  it('refuses incompatible local models with the reasons, and registers nothing', async () => {
    const reg = new ModelRegistry(home, { fetch: directFetch });
    for (const [path, re] of [[NOFIM, /fill-in-the-middle/], [BADARCH, /hearth-unknown-arch/]] as const) {
      await assert.rejects(reg.addModel(path, { purpose: 'completion' }), (e: ModelRegistryError) => {
        assert.equal(e.code, 'refused');
        assert.match(e.message, re);
        assert.ok(e.reasons.length > 0);
        return true;
      });
    }
    await assert.rejects(reg.addModel(GOOD, { purpose: 'completion', memoryBudgetBytes: 1000 }),
      (e: ModelRegistryError) => e.code === 'refused' && /memory/.test(e.message));
    await assert.rejects(reg.addModel(GOOD, { purpose: 'completion', sha256: '0'.repeat(64) }),
      (e: ModelRegistryError) => e.code === 'checksum');
    assert.deepEqual(await reg.list(), []);
  });

  it('downloads a URL with progress, resuming with Range after the connection drops', async () => {
    const part = join(home, 'models', 'tiny-llama-fim.gguf.part');
    const stored = async (): Promise<void> => {
      for (let i = 0; i < 1000 && !(existsSync(part) && statSync(part).size >= 50_000); i++) await new Promise((r) => setTimeout(r, 10));
    };
    const { server, base, hits } = await startServer({ dropFirstAt: 50_000, beforeDrop: stored });
    try {
      const reg = new ModelRegistry(home, { fetch: directFetch });
      const fractions: number[] = [];
      const entry = await reg.addModel(`${base}/tiny-llama-fim.gguf`, {
        purpose: 'completion', sha256: goodSha, onProgress: (p) => { if (p.fraction !== undefined) fractions.push(p.fraction); },
      });
      assert.equal(entry.managed, true);
      assert.equal(entry.path, join(home, 'models', 'tiny-llama-fim.gguf'));
      assert.deepEqual(readFileSync(entry.path), goodBytes);
      assert.equal(hits.length, 2);
      assert.equal(hits[0]!.headers.range, undefined);
      assert.equal(hits[1]!.headers.range, 'bytes=50000-');
      assert.equal(fractions.at(-1), 1);
      assert.ok(fractions.some((f) => f > 0 && f < 1));
      assert.ok(!existsSync(entry.path + '.part'));
      assert.equal(await reg.removeModel(entry.id), true);
      assert.ok(!existsSync(entry.path), 'a downloaded model is deleted with its entry');
    } finally {
      server.close();
    }
  });

  it('refuses a URL when no egress-gated fetch is wired (core never opens HTTP on its own)', async () => {
    const { server, base, hits } = await startServer();
    try {
      await assert.rejects(new ModelRegistry(home).addModel(`${base}/tiny-llama-fim.gguf`, { purpose: 'completion', id: 'ungated' }),
        /downloads go through the egress gate.*hearth models add URL/);
      assert.equal(hits.length, 0, 'nothing was requested');
    } finally {
      server.close();
    }
  });

  it('resumes from a .part file left by an earlier run', async () => {
    const { server, base, hits } = await startServer();
    try {
      const dest = join(home, 'x.gguf');
      writeFileSync(dest + '.part', goodBytes.subarray(0, 1234));
      const res = await downloadFile({ fetch: directFetch, url: `${base}/tiny-llama-fim.gguf`, dest, sha256: goodSha });
      assert.equal(res.resumes, 1);
      assert.equal(res.sha256, goodSha);
      assert.equal(hits[0]!.headers.range, 'bytes=1234-');
      assert.deepEqual(readFileSync(dest), goodBytes);
    } finally {
      server.close();
    }
  });

  it('a download does not hold the registry: a local add completes meanwhile, and the same file is not downloaded twice', async () => {
    // Sends the first 1000 bytes, then nothing: the download stays in flight until cancelled.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(goodBytes.length) });
      res.write(goodBytes.subarray(0, 1000));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tiny-llama-fim.gguf`;
    try {
      const ctl = new AbortController();
      const slow = new ModelRegistry(home, { fetch: directFetch }).addModel(url, { purpose: 'completion', signal: ctl.signal });
      const part = join(home, 'models', 'tiny-llama-fim.gguf.part');
      for (let i = 0; i < 500 && !(existsSync(part) && statSync(part).size >= 1000); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(statSync(part).size, 1000, 'the download is under way');
      await assert.rejects(new ModelRegistry(home, { fetch: directFetch }).addModel(url, { purpose: 'completion', id: 'twice' }),
        (e: ModelRegistryError) => e.code === 'exists' && /already being downloaded/.test(e.message));
      const local = await new ModelRegistry(home, { fetch: directFetch }).addModel(GOOD, { purpose: 'completion', id: 'local-meanwhile' });
      assert.equal(local.id, 'local-meanwhile');
      ctl.abort();
      await assert.rejects(slow, (e: ModelRegistryError) => e.code === 'cancelled');
      assert.deepEqual((await new ModelRegistry(home, { fetch: directFetch }).list()).map((m) => m.id), ['local-meanwhile']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('deletes a download whose checksum does not match and registers nothing', async () => {
    const { server, base } = await startServer();
    try {
      const reg = new ModelRegistry(home, { fetch: directFetch });
      await assert.rejects(reg.addModel(`${base}/tiny-llama-fim.gguf`, { purpose: 'completion', sha256: 'ab'.repeat(32) }),
        (e: ModelRegistryError) => {
          assert.equal(e.code, 'checksum');
          assert.match(e.message, new RegExp(`expected sha256 ${'ab'.repeat(32)}, got ${goodSha}`));
          return true;
        });
      assert.ok(!existsSync(join(home, 'models', 'tiny-llama-fim.gguf')));
      assert.ok(!existsSync(join(home, 'models', 'tiny-llama-fim.gguf.part')));
      assert.deepEqual(await reg.list(), []);
    } finally {
      server.close();
    }
  });

  it('refuses an incompatible download after checking it, and deletes the file', async () => {
    const { server, base } = await startServer();
    try {
      const reg = new ModelRegistry(home, { fetch: directFetch });
      await assert.rejects(reg.addModel(`${base}/tiny-llama-nofim.gguf`, { purpose: 'completion' }),
        (e: ModelRegistryError) => e.code === 'refused' && /fill-in-the-middle/.test(e.message));
      assert.ok(!existsSync(join(home, 'models', 'tiny-llama-nofim.gguf')));
      assert.deepEqual(await reg.list(), []);
    } finally {
      server.close();
    }
  });

  it('reports HTTP errors and bad sources clearly', async () => {
    const { server, base } = await startServer();
    try {
      const reg = new ModelRegistry(home, { fetch: directFetch });
      await assert.rejects(reg.addModel(`${base}/missing.gguf`, { purpose: 'completion' }), /answered 404/);
      await assert.rejects(reg.addModel(`${base}/model.bin`, { purpose: 'completion' }), /only single GGUF files/);
      await assert.rejects(reg.addModel('ftp://example.invalid/m.gguf', { purpose: 'completion' }), /local path or an http\(s\) URL/);
      await assert.rejects(downloadFile({ fetch: directFetch, url: `${base}/tiny-llama-fim.gguf`, dest: join(home, 'y.gguf'), sha256: 'xyz' }),
        (e: DownloadError) => e.code === 'checksum' && /not a sha256/.test(e.message));
    } finally {
      server.close();
    }
  });

  it('refuses to work on a corrupt models.json instead of overwriting it', async () => {
    writeFileSync(join(home, 'models.json'), '{ not json');
    const reg = new ModelRegistry(home, { fetch: directFetch });
    await assert.rejects(reg.list(), (e: ModelRegistryError) => e.code === 'corrupt-registry' && /not valid JSON/.test(e.message));
    await assert.rejects(reg.addModel(GOOD, { purpose: 'completion' }), (e: ModelRegistryError) => e.code === 'corrupt-registry');
    assert.equal(readFileSync(join(home, 'models.json'), 'utf8'), '{ not json');
  });
});
