// Egress through the real daemon (issue 4, "Must show" 2). The scripted OpenAI-compatible server on
// 127.0.0.1 is declared `location: cloud` in the user policy and routed first for completion; it
// records every byte and every TCP connection it gets. Editors are real `hearth lsp --stdio`
// bridges. Shown here:
//   - control: with no workspace policy the completion does reach it (so the zero counts below can fail);
//   - a workspace policy denying cloud: zero connections, and the completion falls back to local;
//   - ask: nothing reaches it until the requesting editor answers hearth/egress/confirm with once,
//     the bytes it then receives are exactly the payload the editor was shown, and after a deny
//     nothing more arrives (the local engine serves, and the decline is not asked again);
//   - secrets in open buffers (AWS key in the requesting buffer, an RSA private key block in another
//     editor's buffer, a `.env` file open in another buffer) never appear in what it receives;
//   - `hearth egress log --json` byte counts and hashes equal what it received, request by request.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, type CancellationToken } from 'vscode-jsonrpc';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import {
  attachEditor, cliJson, makeHome, makeWorkspace, userPolicyFile, waitFor, waitOpenIn, writeFileAtomic, type Editor, type HearthHome,
} from '../helpers/routing-harness.js';
import { EgressConfirm, RouteCurrent } from '../../server/protocol.js';

// Line 0 names the workspace (see workspace()): completions are cached by their text, so each
// workspace's buffer differs and every request really is routed.
const APP = [
  '// app',
  'export function add(a: number, b: number): number {',
  '  return a + b;',
  '}',
  '',
  'export function total(xs: number[]): number {',
  '  let sum = 0;',
  '  for (const x of xs) sum = add(sum, x);',
  '  ',
  '}',
  '',
].join('\n');

const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');

function userPolicy(server: ScriptedServer): string {
  return [
    'version: 1',
    'default:',
    '  cloud: allow',
    'providers:',
    '  - id: scripted',
    '    kind: openai',
    `    baseUrl: ${server.url}`,
    '    model: scripted-coder',
    '    location: cloud',
    '    features: [completion]',
    'routes:',
    '  completion: [scripted, ngram]',
    '',
  ].join('\n');
}

describe('egress through the daemon (scripted cloud provider on 127.0.0.1, real bridges)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let seq = 0;

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('egress');
    writeFileAtomic(userPolicyFile(h), userPolicy(server));
    const check = await h.cli(['policy', 'check']);
    assert.equal(check.code, 0, `the test's user policy is invalid:\n${check.stdout}\n${check.stderr}`);
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  /** A workspace with app.ts (and an optional workspace policy), one editor attached to it. */
  async function workspace(policy: string | null, editorName = 'vscode'): Promise<{ root: string; file: string; ed: Editor }> {
    const root = makeWorkspace(h, `ws-${++seq}`);
    if (policy !== null) writeFileAtomic(path.join(root, '.hearth', 'policy.yaml'), policy);
    const file = path.join(root, 'app.ts');
    const text = APP.replace('// app', `// app of ${path.basename(root)}`);
    fs.writeFileSync(file, text);
    const ed = await attachEditor(h, editorName, root);
    await ed.open(file, text);
    return { root, file, ed };
  }

  it('control: without a workspace policy the completion goes to the cloud provider', async () => {
    const before = server.requests.length;
    const { file, ed } = await workspace(null);
    const r = await ed.complete(file, 8, 2);
    assert.deepEqual(r.items.map((i) => i.insertText), ['return a + b;']);
    const route = await ed.waitNotification(RouteCurrent.method);
    assert.equal(route.provider, 'scripted');
    assert.equal(route.location, 'cloud');
    assert.equal(server.requests.length, before + 1);
    const body = JSON.parse(server.requests.at(-1)!.body.toString('utf8')) as { prompt: string; suffix: string; model: string };
    assert.equal(body.model, 'scripted-coder');
    assert.ok(body.prompt.endsWith('for (const x of xs) sum = add(sum, x);\n  '), `prompt: ${JSON.stringify(body.prompt)}`);
  });

  it('a workspace policy denying cloud: the server gets zero connections and the completion falls back to local', async () => {
    const connections = server.connections();
    const requests = server.requests.length;
    const { file, ed } = await workspace([
      'version: 1',
      'rules:',
      '  - name: this repository stays on the machine',
      '    location: cloud',
      '    action: deny',
      '',
    ].join('\n'));
    const r = await ed.complete(file, 8, 2);
    const route = await ed.waitNotification(RouteCurrent.method);
    assert.equal(route.provider, 'ngram', `route: ${JSON.stringify(route)}`);
    assert.equal(route.location, 'local');
    assert.ok(Array.isArray(r.items));
    const plan = await ed.explain(file, 8, 2);
    const skipped = (plan.considered as Array<{ provider: string; skipped?: string }>).find((c) => c.provider === 'scripted');
    assert.match(skipped?.skipped ?? '', /denied by .*\.hearth\/policy\.yaml:3:\d+ \(workspace rule "this repository stays on the machine": deny\)/);
    assert.equal(server.connections(), connections, 'no TCP connection reached the cloud provider');
    assert.equal(server.requests.length, requests);
  });

  it('a workspace policy denying cloud holds for the very first request, sent before initialize is even answered', async () => {
    const connections = server.connections();
    const root = makeWorkspace(h, `ws-${++seq}`);
    // A long policy file (a big comment header) makes reading it take a while.
    const header = Array.from({ length: 40_000 }, (_, i) => `# note ${i}: completions in this repository must never leave the machine`).join('\n');
    writeFileAtomic(path.join(root, '.hearth', 'policy.yaml'), `${header}\nversion: 1\nrules:\n  - location: cloud\n    action: deny\n`);
    const file = path.join(root, 'app.ts');
    const uri = pathToFileURL(file).href;
    const lsp = h.lsp();
    // Everything pipelined, as a fast editor may do: no wait for the initialize reply.
    const init = lsp.connection.sendRequest('initialize', { processId: process.pid, clientInfo: { name: 'fast-editor', version: '1' }, rootUri: pathToFileURL(root).href, capabilities: {} });
    void lsp.connection.sendNotification('initialized', {});
    void lsp.open(uri, APP);
    const r = await lsp.inlineCompletion(uri, 8, 2);
    await init;
    assert.ok(Array.isArray(r.items));
    const route = await waitFor('route/current', () => lsp.notifications.find((n) => n.method === RouteCurrent.method)?.params as { provider: string } | undefined);
    assert.equal(route.provider, 'ngram', 'the workspace policy was in force for the first request');
    assert.equal(server.connections(), connections, 'no TCP connection reached the cloud provider');
  });

  it('ask: nothing arrives until the requesting editor answers once; then exactly the payload it was shown; nothing after a deny', async () => {
    const connections = server.connections();
    const requests = server.requests.length;
    const { file, ed } = await workspace([
      'version: 1',
      'rules:',
      '  - name: ask before code leaves',
      '    location: cloud',
      '    action: ask',
      '',
    ].join('\n'));
    const other = await attachEditor(h, 'neovim', path.dirname(file));
    ed.fallback = 'hang';

    const pending = ed.complete(file, 8, 2);
    await waitFor('the confirm request in the requesting editor', () => ed.pendingConfirms === 1);
    const shown = ed.confirms[0]!;
    assert.equal(shown.provider, 'scripted');
    assert.equal(shown.host, server.host);
    assert.equal(shown.feature, 'completion');
    assert.deepEqual(shown.options, ['once', 'session', 'always', 'deny']);
    assert.equal(shown.bytes, Buffer.byteLength(shown.payload));
    // While the user thinks, nothing has left.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.connections(), connections, 'nothing reached the server before the answer');
    assert.equal(other.confirms.length, 0, 'only the editor whose request it is is asked');

    assert.equal(ed.release('once'), 1);
    const r = await pending;
    assert.deepEqual(r.items.map((i) => i.insertText), ['return a + b;']);
    assert.equal(server.requests.length, requests + 1);
    assert.equal(server.requests.at(-1)!.body.toString('utf8'), shown.payload, 'the server received exactly the payload the editor was shown');

    // "once" covers one request: an edited buffer asks again; deny → nothing more arrives.
    ed.fallback = 'deny';
    const uri = pathToFileURL(file).href;
    await ed.lsp.change(uri, 2, [{ range: { start: { line: 8, character: 2 }, end: { line: 8, character: 2 } }, text: 'return ' }]);
    const denied = await ed.complete(file, 8, 9);
    assert.equal(ed.confirms.length, 2, 'asked again after a once grant');
    // A decline falls through to the next provider of the chain (issue 13): the local engine.
    assert.ok(Array.isArray(denied.items));
    const deniedRoute = await ed.waitNotification(RouteCurrent.method, (p) => p.fallback === 'scripted declined');
    assert.equal(deniedRoute.provider, 'ngram');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.requests.length, requests + 1, 'nothing arrived after the deny');
    const opened = server.connections();

    // And again: not asked again (a completion decline stands for the session), still nothing.
    await ed.lsp.change(uri, 3, [{ range: { start: { line: 8, character: 9 }, end: { line: 8, character: 9 } }, text: 's' }]);
    await ed.complete(file, 8, 10).catch(() => undefined);
    assert.equal(ed.confirms.length, 2, 'a declined ask does not come back on the next pause');
    assert.equal(server.requests.length, requests + 1);
    assert.equal(server.connections(), opened);
  });

  it('secrets in open buffers (AWS key, RSA private key block in another editor, an open .env) never reach the server', async () => {
    const root = makeWorkspace(h, `ws-${++seq}`);
    const awsId = 'AKIAZ7Q3M5XK2PLR4WJD';
    const awsSecret = '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';
    const { privateKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 512,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const keyLines = privateKey.trim().split('\n');
    assert.equal(keyLines[0], '-----BEGIN RSA PRIVATE KEY-----');
    const dbPassword = 'Zq8vLp3xWm7tRk2n';
    const stripe = `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`;
    const envText = `DATABASE_PASSWORD=${dbPassword}\nSTRIPE_SECRET_KEY=${stripe}\nDATABASE_HOST=db.internal\n`;
    const app = [
      "import { connect } from './db';",
      `const AWS_ACCESS_KEY_ID = '${awsId}';`,
      `const AWS_SECRET_ACCESS_KEY = '${awsSecret}';`,
      '',
      'export async function deploy(): Promise<void> {',
      '  const password = process.env.DATABASE_PASSWORD;',
      '  const stripe = process.env.STRIPE_SECRET_KEY;',
      '  const key = DEPLOY_KEY;',
      '  await connect(',
      '}',
      '',
    ].join('\n');
    const deploy = ['// deploy key', 'export const DEPLOY_KEY = `', ...keyLines, '`;'].join('\n');
    const files = { app: path.join(root, 'app.ts'), deploy: path.join(root, 'deploy.ts'), env: path.join(root, '.env') };
    fs.writeFileSync(files.app, app);
    fs.writeFileSync(files.deploy, deploy);
    fs.writeFileSync(files.env, envText);

    const vscode = await attachEditor(h, 'vscode', root);
    const nvim = await attachEditor(h, 'neovim', root);
    await nvim.open(files.deploy, deploy);
    await waitOpenIn(h, 'neovim', files.deploy);
    await vscode.open(files.env, envText, 'dotenv');
    await vscode.open(files.app, app);

    // The plan shows the pieces that carry the secrets, with their sources.
    const plan = await vscode.explain(files.app, 8, 16);
    assert.equal(plan.route.provider, 'scripted');
    const pieces = plan.pieces as Array<{ source: { uri: string; client?: string }; bytes: number; sentBytes: number; dataClass: string; redactions: Array<{ rule: string; count: number }> }>;
    const envPiece = pieces.find((p) => p.source.uri === pathToFileURL(files.env).href);
    const keyPiece = pieces.find((p) => p.source.uri === pathToFileURL(files.deploy).href);
    const appPiece = pieces.find((p) => p.source.uri === pathToFileURL(files.app).href);
    assert.ok(envPiece, `the .env buffer is in the context: ${JSON.stringify(pieces.map((p) => p.source))}`);
    assert.ok(keyPiece, `the deploy key buffer is in the context: ${JSON.stringify(pieces.map((p) => p.source))}`);
    assert.equal(keyPiece.source.client, 'neovim');
    assert.equal(envPiece.dataClass, 'secret');
    for (const p of [envPiece, keyPiece, appPiece!]) assert.ok(p.redactions.length > 0, `redactions in ${p.source.uri}`);

    const before = server.requests.length;
    const r = await vscode.complete(files.app, 8, 16);
    assert.deepEqual(r.items.map((i) => i.insertText), ['return a + b;']);
    assert.equal(server.requests.length, before + 1, 'the completion went out (redacted)');
    const body = server.requests.at(-1)!.body.toString('utf8');
    // The surrounding code did go out, so the checks below look at a real payload.
    assert.match(body, /process\.env\.DATABASE_PASSWORD/);
    assert.match(body, /DEPLOY_KEY/);

    const received = server.everything();
    const forbidden = [awsId, awsSecret, dbPassword, stripe, 'BEGIN RSA PRIVATE KEY', ...keyLines.slice(1, -1).filter((l) => l.length >= 16)];
    for (const s of forbidden) {
      assert.ok(!received.includes(s), `the server received the secret ${JSON.stringify(s)}`);
      // Also in the JSON-escaped form a body would carry it.
      assert.ok(!received.includes(JSON.stringify(s).slice(1, -1)), `the server received the secret ${JSON.stringify(s)} (escaped)`);
    }
  });

  it('ask, then the editor cancels its completion: the confirm request is withdrawn, nothing is sent, the ledger says cancelled', async () => {
    const requests = server.requests.length;
    const { file, ed } = await workspace('version: 1\nrules:\n  - location: cloud\n    action: ask\n');
    let confirmCancelled = false;
    // This editor never answers by itself; it notices when the daemon withdraws the question.
    ed.lsp.connection.onRequest(EgressConfirm.method, (_p: unknown, token: CancellationToken) => new Promise<{ decision: string }>((resolve) => {
      token.onCancellationRequested(() => {
        confirmCancelled = true;
        resolve({ decision: 'once' }); // too late: the request it was about is gone
      });
    }));
    const cts = new CancellationTokenSource();
    const pending = ed.lsp.connection.sendRequest('textDocument/inlineCompletion', {
      textDocument: { uri: pathToFileURL(file).href }, position: { line: 8, character: 2 }, context: { triggerKind: 1 },
    }, cts.token).then((r) => ({ r }), (e: Error) => ({ e }));
    const before = (await cliJson<Array<{ outcome: string }>>(h, ['egress', 'log', '--json', '--limit', '1000'])).length;
    await new Promise((r) => setTimeout(r, 300));
    cts.cancel();
    const settled = await Promise.race([pending, new Promise((r) => setTimeout(() => r('stuck'), 10_000))]);
    assert.notEqual(settled, 'stuck', 'the cancelled completion was never answered');
    await waitFor('the daemon to withdraw the confirm request', () => confirmCancelled);
    const entries = await cliJson<Array<{ outcome: string; bytes: number; provider: string }>>(h, ['egress', 'log', '--json', '--limit', '1000']);
    assert.equal(entries.length, before + 1);
    assert.equal(entries[0]!.outcome, 'cancelled');
    assert.equal(entries[0]!.bytes, 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.requests.length, requests, 'nothing was sent');
  });

  it("a buffer of a workspace that denies cloud never goes out as a snippet of another workspace's request", async () => {
    const marker = 'PROPRIETARY_RISK_MODEL_7731';
    const closed = makeWorkspace(h, `ws-${++seq}`);
    writeFileAtomic(path.join(closed, '.hearth', 'policy.yaml'), 'version: 1\nrules:\n  - location: cloud\n    action: deny\n');
    const algo = path.join(closed, 'risk.ts');
    const algoText = [
      `// ${marker}`,
      'export function computeRiskScore(exposure: number, volatility: number): number {',
      '  return Math.sqrt(exposure * volatility) * 0.7731;',
      '}',
      '',
    ].join('\n');
    fs.writeFileSync(algo, algoText);
    const closedEditor = await attachEditor(h, 'neovim', closed);
    await closedEditor.open(algo, algoText);
    await waitOpenIn(h, 'neovim', algo);

    const open = makeWorkspace(h, `ws-${++seq}`);
    const use = path.join(open, 'report.ts');
    const useText = 'export function report(exposure: number, volatility: number): string {\n  const score = computeRiskScore(exposure, volatility);\n  \n}\n';
    fs.writeFileSync(use, useText);
    const ed = await attachEditor(h, 'vscode', open);
    await ed.open(use, useText);

    const plan = await ed.explain(use, 2, 2);
    assert.equal(plan.route.location, 'cloud');
    const uris = (plan.pieces as Array<{ source: { uri: string } }>).map((p) => p.source.uri);
    assert.ok(!uris.includes(pathToFileURL(algo).href), `the cloud plan lists the other workspace's buffer: ${JSON.stringify(uris)}`);
    const before = server.requests.length;
    await ed.complete(use, 2, 2);
    assert.equal(server.requests.length, before + 1);
    assert.ok(!server.everything().includes(marker), "the other workspace's code reached the server");
    assert.ok(!server.everything().includes('0.7731'), "the other workspace's code reached the server");
  });

  it('`hearth egress log --json` byte counts and hashes equal what the server received, request by request', async () => {
    const entries = await cliJson<Array<{ outcome: string; bytes: number; sha256: string; provider: string; host: string; feature: string; client: string | null }>>(h, ['egress', 'log', '--json', '--limit', '1000']);
    const sent = entries.filter((e) => e.outcome === 'sent').reverse(); // oldest first, like server.requests
    assert.equal(sent.length, server.requests.length, `ledger: ${JSON.stringify(entries.map((e) => [e.outcome, e.bytes]))}`);
    assert.ok(sent.length >= 3);
    sent.forEach((e, i) => {
      const got = server.requests[i]!.body;
      assert.equal(e.bytes, got.length, `request ${i}: ledger bytes vs received bytes`);
      assert.equal(e.sha256, sha256(got), `request ${i}: ledger hash vs received body`);
      assert.equal(e.provider, 'scripted');
      assert.equal(e.host, server.host);
      assert.equal(e.feature, 'completion');
      assert.match(e.client ?? '', /^vscode#/);
    });
    assert.equal(entries.reduce((n, e) => n + e.bytes, 0), server.bodyBytes(), 'the ledger total equals every body byte received');
    const declined = entries.filter((e) => e.outcome === 'declined');
    // One declined ask: after it the chain passes over the provider without asking (or sending) again.
    assert.equal(declined.length, 1, 'the declined ask is in the ledger');
    for (const d of declined) assert.equal(d.bytes, 0);

    const text = await h.cli(['egress', 'log']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`sent\\s+completion -> scripted ${server.host.replace(/\./g, '\\.')}\\s+${sent.at(-1)!.bytes} B`));
  });
});
