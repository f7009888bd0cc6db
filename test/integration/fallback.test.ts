// Routing with fallback through the real daemon (issue 13, "Must show" 5). The user policy routes
// completion to a cloud provider only (`routes.completion: [X]`); the embedded n-gram engine is the
// implicit last resort of the chain. Editors are real `hearth lsp --stdio` bridges; the cloud is
// the scripted OpenAI-compatible server on 127.0.0.1, which records everything it receives.
//   - a missing API key: nothing is sent, ghost text comes from the n-gram engine, and the route
//     plan and the status line (hearth/route/current) say the provider has no key;
//   - a declined ask: the n-gram engine serves, the status line says "cloud declined", the
//     decline is remembered (no second ask), `hearth grants` lists it and revoking it asks again;
//   - HTTP 500: the n-gram engine serves the same request, the status line says "cloud HTTP 500",
//     `hearth route explain` shows the provider resting, and the next requests do not hit it;
//   - positions past the end of the file are refused by `hearth route explain` with the line count,
//     and the plan's pieces are labelled by role.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import {
  attachEditor, cliIn, cliJson, makeHome, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type Editor, type HearthHome,
} from '../helpers/routing-harness.js';
import { RouteCurrent } from '../../server/protocol.js';

// Repeated lines the n-gram engine learns from this very buffer; the cursor ends line 9 after `  ret`.
const ADDS = [
  'export function add1(a: number, b: number): number {',
  '  return a + b;',
  '}',
  'export function add2(a: number, b: number): number {',
  '  return a + b;',
  '}',
  'export function add3(a: number, b: number): number {',
  '  return a + b;',
  '}',
  'export function add4(a: number, b: number): number {',
  '  ret',
  '}',
  '',
].join('\n');
const CURSOR = { line: 10, character: 5 };

function policy(server: ScriptedServer, provider: string, extra: string[] = []): string {
  return [
    'version: 1',
    'default:',
    '  cloud: allow',
    'providers:',
    `  - id: ${provider}`,
    '    kind: openai',
    `    baseUrl: ${server.url}`,
    '    model: scripted-coder',
    '    location: cloud',
    '    features: [completion]',
    ...extra,
    'routes:',
    `  completion: [${provider}]`,
    '',
  ].join('\n');
}

interface Route { provider: string; location: string; reason: string; fallback?: string }
interface Plan {
  route: Route;
  routedBy: string;
  fallbacks: Array<{ provider: string; cause: string; reason: string }>;
  considered: Array<{ provider: string; skipped?: string }>;
}

describe('routing with fallback through the daemon: cloud → n-gram (scripted provider, real bridges)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let seq = 0;

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('fallback');
    writeFileAtomic(userPolicyFile(h), policy(server, 'keyless', ['    apiKeyEnv: HEARTH_TEST_NO_SUCH_KEY_13']));
    const check = await h.cli(['policy', 'check']);
    assert.equal(check.code, 0, `the test's user policy is invalid:\n${check.stdout}\n${check.stderr}`);
    assert.equal(h.env.HEARTH_TEST_NO_SUCH_KEY_13, undefined);
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  /** A workspace (optional workspace policy) with add.ts open in a fresh editor. */
  async function workspace(wsPolicy: string | null): Promise<{ root: string; file: string; ed: Editor }> {
    const root = makeWorkspace(h, `ws-${++seq}`);
    if (wsPolicy !== null) writeFileAtomic(path.join(root, '.hearth', 'policy.yaml'), wsPolicy);
    const file = path.join(root, 'add.ts');
    // Each workspace's text differs (completions are cached by their text).
    const text = `// ${path.basename(root)}\n${ADDS}`;
    fs.writeFileSync(file, text);
    const ed = await attachEditor(h, 'vscode', root);
    await ed.open(file, text);
    return { root, file, ed };
  }
  const at = { line: CURSOR.line + 1, character: CURSOR.character };

  /** Switches the user policy and waits until the daemon plans with it. */
  async function usePolicy(text: string, provider: string): Promise<void> {
    writeFileAtomic(userPolicyFile(h), text);
    const probe = await workspace(null);
    await waitFor(`the policy routing to ${provider}`, async () => {
      const plan = await probe.ed.explain(probe.file, at.line, at.character) as Plan;
      return plan.considered.some((c) => c.provider === provider) || undefined;
    }, 20_000, 200);
    await probe.ed.lsp.dispose();
  }

  it('a missing API key: nothing is sent, ghost text from the n-gram engine, plan and status line say the key is missing', async () => {
    const requests = server.requests.length;
    const { file, ed } = await workspace(null);
    const r = await ed.complete(file, at.line, at.character);
    assert.equal(r.items.length, 1, `ghost text from the local engine: ${JSON.stringify(r)}`);
    assert.ok(r.items[0]!.insertText.startsWith('urn'), `the n-gram engine completes "ret": ${JSON.stringify(r.items[0])}`);
    const route = await ed.waitNotification(RouteCurrent.method) as Route;
    assert.equal(route.provider, 'ngram');
    assert.equal(route.location, 'local');
    assert.equal(route.fallback, 'keyless has no API key');
    assert.match(route.reason, /keyless has no API key/);
    const plan = await ed.explain(file, at.line, at.character) as Plan;
    assert.equal(plan.route.provider, 'ngram');
    assert.equal(plan.fallbacks.length, 1);
    assert.equal(plan.fallbacks[0]!.provider, 'keyless');
    assert.equal(plan.fallbacks[0]!.cause, 'no-key');
    assert.match(plan.fallbacks[0]!.reason, /no API key: the environment variable HEARTH_TEST_NO_SUCH_KEY_13 \(apiKeyEnv in the policy\) is not set/);
    assert.match(plan.routedBy, /^routes\.completion \(.*\), then ngram \(the embedded last resort\)$/);
    assert.equal(server.requests.length, requests, 'nothing reached the provider');

    // The CLI says the same.
    const cli = await cliIn(h, ['route', 'explain', `${file}:${at.line + 1}:${at.character + 1}`], path.dirname(file));
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^ {2}provider {2}ngram \(model ngram-4\)$/m);
    assert.match(cli.stdout, /^ {2}fell back keyless has no API key$/m);
    assert.match(cli.stdout, /^ {2}skipped {3}keyless: not available: provider keyless: no API key/m);
  });

  it('a declined ask: the n-gram engine serves, "cloud declined" in the status line; not asked again; hearth grants lists and revokes the decline', async () => {
    await usePolicy(policy(server, 'cloud'), 'cloud');
    const requests = server.requests.length;
    const { root, file, ed } = await workspace('version: 1\nrules:\n  - location: cloud\n    action: ask\n');
    ed.fallback = 'deny';
    const r = await ed.complete(file, at.line, at.character);
    assert.equal(ed.confirms.length, 1, 'asked once');
    assert.equal(ed.confirms[0]!.provider, 'cloud');
    assert.equal(r.items.length, 1, `ghost text from the local engine after the decline: ${JSON.stringify(r)}`);
    assert.ok(r.items[0]!.insertText.startsWith('urn'));
    const route = await ed.waitNotification(RouteCurrent.method) as Route;
    assert.equal(route.provider, 'ngram');
    assert.equal(route.fallback, 'cloud declined');
    assert.equal(server.requests.length, requests, 'nothing was sent');

    // Typing on: the decline stands for the session, so no second ask; the plan says why.
    const uri = pathToFileURL(file).href;
    await ed.lsp.change(uri, 2, [{ range: { start: { line: at.line, character: at.character }, end: { line: at.line, character: at.character } }, text: 'u' }]);
    const again = await ed.complete(file, at.line, at.character + 1);
    assert.equal(ed.confirms.length, 1, 'a decline is not asked again on the next pause');
    assert.ok(again.items[0]?.insertText.startsWith('rn'), `still ghost text: ${JSON.stringify(again)}`);
    const plan = await ed.explain(file, at.line, at.character + 1) as Plan;
    assert.equal(plan.route.provider, 'ngram');
    assert.deepEqual(plan.fallbacks.map((f) => [f.provider, f.cause]), [['cloud', 'declined']]);
    assert.match(plan.fallbacks[0]!.reason, /declined by you \(vscode#\w+\) this session/);

    // hearth grants: the decline is an egress grant; revoking it asks again.
    const grants = await cliJson<Array<{ kind: string; id: string; grant: string; provider: string; feature: string; workspace: string | null }>>(h, ['grants', 'list', '--json']);
    const declined = grants.filter((g) => g.kind === 'egress' && g.grant === 'declined');
    assert.equal(declined.length, 1, JSON.stringify(grants));
    assert.equal(declined[0]!.provider, 'cloud');
    assert.equal(declined[0]!.feature, 'completion');
    assert.equal(declined[0]!.workspace, root);
    const listed = await h.cli(['grants']);
    assert.match(listed.stdout, new RegExp(`^${declined[0]!.id}  egress declined  completion -> cloud  workspace ${root.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}  by vscode#\\w+ at \\S+  until the daemon stops$`, 'm'));
    const rv = await h.cli(['grants', 'revoke', declined[0]!.id]);
    assert.equal(rv.code, 0, rv.stderr);
    ed.fallback = 'once';
    await ed.lsp.change(uri, 3, [{ range: { start: { line: at.line, character: at.character + 1 }, end: { line: at.line, character: at.character + 1 } }, text: 'r' }]);
    const asked = await ed.complete(file, at.line, at.character + 2);
    assert.equal(ed.confirms.length, 2, 'asked again after the revoke');
    assert.deepEqual(asked.items.map((i) => i.insertText), ['return a + b;'], 'allowed once: the cloud answered');
    assert.equal(server.requests.length, requests + 1);
  });

  it('HTTP 500: the same request is served by the n-gram engine, "cloud HTTP 500" in the status line, and the provider rests', async () => {
    const requests = server.requests.length;
    const { file, ed } = await workspace(null);
    server.script({ status: 500, json: { error: { message: 'the model server fell over' } } });
    const r = await ed.complete(file, at.line, at.character);
    assert.equal(server.requests.length, requests + 1, 'the cloud was tried first');
    assert.equal(r.items.length, 1, `ghost text from the local engine after the HTTP 500: ${JSON.stringify(r)}`);
    assert.ok(r.items[0]!.insertText.startsWith('urn'));
    const route = await ed.waitNotification(RouteCurrent.method) as Route;
    assert.equal(route.provider, 'ngram');
    assert.equal(route.fallback, 'cloud HTTP 500');
    // The ledger holds the attempt, with its status.
    const ledger = await cliJson<Array<{ provider: string; outcome: string; status: number | null }>>(h, ['egress', 'log', '--json', '--limit', '1']);
    assert.deepEqual([ledger[0]!.provider, ledger[0]!.outcome, ledger[0]!.status], ['cloud', 'sent', 500]);

    // The provider rests: the plan passes over it with the reason, the next request does not hit it.
    const plan = await ed.explain(file, at.line, at.character) as Plan;
    assert.equal(plan.route.provider, 'ngram');
    assert.equal(plan.fallbacks[0]!.cause, 'http-error');
    assert.match(plan.fallbacks[0]!.reason, /answered HTTP 500: .*the model server fell over.*s ago; tried again in \d+ s/);
    const uri = pathToFileURL(file).href;
    await ed.lsp.change(uri, 2, [{ range: { start: { line: at.line, character: at.character }, end: { line: at.line, character: at.character } }, text: 'u' }]);
    const next = await ed.complete(file, at.line, at.character + 1);
    assert.ok(next.items[0]?.insertText.startsWith('rn'));
    assert.equal(server.requests.length, requests + 1, 'a resting provider is not tried on every keystroke');
  });

  it('route explain: a position past the end of the file is an error naming its line count; pieces are labelled by role', async () => {
    const { file } = await workspace(null);
    const lines = fs.readFileSync(file, 'utf8').split('\n').length - 1;
    const past = await cliIn(h, ['route', 'explain', `${file}:${lines + 5}:1`], path.dirname(file));
    assert.notEqual(past.code, 0);
    assert.match(past.stderr, new RegExp(`line ${lines + 5} is past the end of add\\.ts: it has ${lines} lines; nothing was planned`));
    const col = await cliIn(h, ['route', 'explain', `${file}:1:200`], path.dirname(file));
    assert.notEqual(col.code, 0);
    assert.match(col.stderr, /column 200 is past the end of line 1 of add\.ts: that line has \d+ characters/);
    // Through the protocol too (an editor's stale position).
    const ed = await attachEditor(h, 'neovim', path.dirname(file));
    await ed.open(file, fs.readFileSync(file, 'utf8'));
    const err = await ed.explain(file, lines + 4, 0).then(() => null, (e: Error & { code?: number }) => e);
    assert.ok(err, 'explain past the end is refused');
    assert.equal(err.code, -32602);
    assert.match(err.message, /line \d+ is past the end of .*add\.ts: it has \d+ lines/);

    const ok = await cliIn(h, ['route', 'explain', `${file}:${at.line + 1}:${at.character + 1}`], path.dirname(file));
    assert.equal(ok.code, 0, ok.stderr);
    const data = ok.stdout.slice(ok.stdout.indexOf('  data:\n') + 8).trimEnd().split('\n');
    const uri = pathToFileURL(file).href.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    assert.match(data[0]!, new RegExp(`^\\s+\\d+ B  code   prefix +${uri} \\(buffer of hearth-cli\\)$`));
    assert.match(data[1]!, new RegExp(`^\\s+\\d+ B  code   suffix +${uri} \\(buffer of hearth-cli\\)$`));
    assert.notEqual(data[0], data[1]);
    // Other open buffers (when context assembly picks any) are labelled as such.
    assert.ok(data.slice(2).every((l) => /^\s+\d+ B  code   other buffer +\S+ \(open in \S+\)$/.test(l)), data.join('\n'));
  });
});
