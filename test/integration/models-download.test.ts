// Model downloads go through the egress gate (issue 4: the gate is "the only code path that opens a
// connection off the machine"). `hearth models add URL` asks the daemon, which plans the GET like
// any other request (feature `model-download`, the host as provider), so policy can deny it, ask
// first, and every attempt — each redirect hop too — lands in the egress ledger. Real daemon, real
// CLI processes, a file server on 127.0.0.1 that counts what it is asked.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FIM_MODEL, cliJson, makeHome, userPolicyFile, waitFor, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';
import { CancellationTokenSource, ProgressType } from 'vscode-jsonrpc';
import { hearthOnPty } from '../helpers/daemon.js';
import { ModelsAdd, type Lsp, type Params } from '../../server/protocol.js';

interface FileServer { server: Server; base: string; host: string; hits: string[]; close(): Promise<void> }

/** Serves the FIM fixture at /tiny.gguf; /hop/tiny.gguf redirects to `redirectTo`; /slow.gguf sends 64 KiB then stalls. */
function serve(redirectTo?: string): Promise<FileServer> {
  const body = fs.readFileSync(FIM_MODEL);
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/hop/tiny.gguf' && redirectTo) return void res.writeHead(302, { location: redirectTo }).end();
    if (req.url === '/slow.gguf') {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, 65536)); // then nothing more: the client must cancel
      return;
    }
    if (req.url !== '/tiny.gguf') return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    resolve({
      server, base: `http://${host}`, host, hits,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    });
  }));
}

interface LedgerRow { feature: string; provider: string; host: string; outcome: string; decision: string; grant: string | null; rule: string; bytes: number; client: string | null; status: number | null }

describe('model downloads through the egress gate (real daemon and CLI)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let a: FileServer;
  let b: FileServer;

  before(async () => {
    b = await serve();
    a = await serve(`${b.base}/tiny.gguf`);
    h = makeHome('models-download');
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
    await a?.close();
    await b?.close();
  });
  beforeEach(() => {
    a.hits.length = 0;
    b.hits.length = 0;
  });

  const policy = async (text: string): Promise<void> => {
    writeFileAtomic(userPolicyFile(h), `version: 1\n${text}`);
    const check = await h.cli(['policy', 'check']);
    assert.equal(check.code, 0, `the test's policy is invalid:\n${check.stdout}${check.stderr}`);
    // The daemon reloads it (hot reload): wait until a fresh plan would see it.
    await new Promise((r) => setTimeout(r, 600));
  };
  /** Model-download rows of the egress ledger, oldest first (`egress log` lists newest first). */
  const ledger = async (): Promise<LedgerRow[]> => (await cliJson<LedgerRow[]>(h, ['egress', 'log', '--json']))
    .filter((e) => e.feature === 'model-download').reverse();
  const models = async (): Promise<string[]> => (await cliJson<Array<{ id: string }>>(h, ['models', 'list', '--json'])).map((m) => m.id);

  it('a policy rule denying model-download: refused with the rule, the server is never contacted, the ledger says denied', async () => {
    await policy('rules:\n  - feature: [model-download]\n    action: deny\n');
    const before = (await ledger()).length;
    const r = await h.cli(['models', 'add', `${a.base}/tiny.gguf`, '--id', 'denied-model']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /download refused: .*policy denies downloading from 127\.0\.0\.1:\d+ \(.*policy\.yaml:3:\d+/);
    assert.deepEqual(a.hits, [], 'no request reached the server');
    const rows = (await ledger()).slice(before);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.outcome, 'denied');
    assert.equal(rows[0]!.host, a.host);
    assert.equal(rows[0]!.provider, `download:${a.host}`);
    assert.equal(rows[0]!.bytes, 0);
    assert.ok(!(await models()).includes('denied-model'));
  });

  it('ask: with no terminal and no --yes it is declined before any byte goes; with --yes it downloads, registers and loads the model', async () => {
    await policy('rules:\n  - feature: [model-download]\n    action: ask\n');
    const before = (await ledger()).length;
    const declined = await h.cli(['models', 'add', `${a.base}/tiny.gguf`, '--id', 'asked-model']);
    assert.notEqual(declined.code, 0);
    assert.match(declined.stderr, /policy asks before this download leaves the machine/);
    assert.match(declined.stderr, /no terminal to ask on: declined \(pass --yes/);
    assert.deepEqual(a.hits, []);

    const ok = await h.cli(['models', 'add', `${a.base}/tiny.gguf`, '--id', 'asked-model', '--yes']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /added asked-model \(completion, llama, .*engines now: .*gguf:asked-model/);
    assert.deepEqual(a.hits, ['/tiny.gguf']);
    assert.ok((await models()).includes('asked-model'));
    const stored = path.join(h.paths.home, 'models', 'tiny.gguf');
    assert.deepEqual(fs.readFileSync(stored), fs.readFileSync(FIM_MODEL), 'the downloaded file is the served file');
    const rows = (await ledger()).slice(before);
    assert.deepEqual(rows.map((e) => [e.outcome, e.decision, e.grant]), [['declined', 'ask', null], ['sent', 'ask', 'once']]);
    assert.equal(rows[1]!.status, 200);
    assert.match(rows[1]!.client ?? '', /^hearth-cli#/, 'the ledger names the requesting client');
    const rm = await h.cli(['models', 'remove', 'asked-model']);
    assert.equal(rm.code, 0, rm.stderr);
  });

  it('ask on a terminal (a real pty through util-linux `script`): the prompt names URL, host and rule; "o" downloads once', async () => {
    await policy('rules:\n  - feature: [model-download]\n    action: ask\n');
    const pty = hearthOnPty(['models', 'add', `${a.base}/tiny.gguf`, '--id', 'tty-model'], h.env);
    try {
      await pty.waitScreen('the egress prompt on the terminal', /\[d\]eny\? /);
      assert.ok(pty.screen().includes(`${a.base}/tiny.gguf`), pty.screen());
      assert.ok(pty.screen().includes(`host ${a.host} (download:${a.host})`), pty.screen());
      assert.match(pty.screen(), /rule .*policy\.yaml:3:\d+/);
      assert.deepEqual(a.hits, [], 'nothing was fetched before the answer');
      pty.type('o\r');
      assert.equal(await pty.exited, 0, pty.screen());
    } finally {
      pty.kill();
    }
    assert.match(pty.screen(), /added tty-model/);
    assert.deepEqual(a.hits, ['/tiny.gguf']);
    const rm = await h.cli(['models', 'remove', 'tty-model']);
    assert.equal(rm.code, 0, rm.stderr);
  });

  it('every redirect hop is planned on its own: a policy denying the second host stops the download there', async () => {
    await policy(`rules:\n  - provider: [download:${b.host}]\n    action: deny\n`);
    const before = (await ledger()).length;
    const r = await h.cli(['models', 'add', `${a.base}/hop/tiny.gguf`, '--id', 'hopped']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`policy denies downloading from ${b.host.replace(/\./g, '\\.')}`));
    assert.deepEqual(a.hits, ['/hop/tiny.gguf']);
    assert.deepEqual(b.hits, [], 'the redirect target was never contacted');
    const rows = (await ledger()).slice(before);
    assert.deepEqual(rows.map((e) => [e.host, e.outcome, e.status]), [[a.host, 'sent', 302], [b.host, 'denied', null]]);
  });

  it('reports $/progress to the requesting client, and $/cancelRequest stops a stalled download, keeping the partial file', async () => {
    await policy('rules: []\n');
    const c = await h.connect({ name: 'progress-client', version: '1', kind: 'test' });
    const progress: Array<Params<typeof Lsp.progress>['value']> = [];
    c.connection.onProgress(new ProgressType<Params<typeof Lsp.progress>['value']>(), 'dl-1', (v) => { progress.push(v); });
    const cts = new CancellationTokenSource();
    const call = c.connection.sendRequest(ModelsAdd.method, { url: `${a.base}/slow.gguf`, id: 'slow-model', workDoneToken: 'dl-1' }, cts.token);
    await waitFor('a progress report with bytes received', () => progress.some((v) => v.kind === 'report' && /MiB of/.test(v.message ?? '')));
    assert.equal(progress[0]!.kind, 'begin');
    cts.cancel();
    await assert.rejects(call, (e: { code?: number; message: string }) => e.code === -32800 && /cancelled; the partial file .*slow\.gguf\.part is kept/.test(e.message));
    await waitFor('the end of progress', () => progress.some((v) => v.kind === 'end'));
    const part = path.join(h.paths.home, 'models', 'slow.gguf.part');
    assert.equal(fs.statSync(part).size, 65536, 'what arrived is kept for a resume');
    assert.ok(!(await models()).includes('slow-model'));
  });
});
