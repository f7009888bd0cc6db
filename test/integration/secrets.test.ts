// Credentials the daemon holds (issue 13, must show 2). A key stored with `hearth secrets set`
// (stdin) reaches a scripted provider on 127.0.0.1 from a daemon that an editor's bridge started
// (the environment of bridge and daemon holds no key), and again from the daemon the bridge starts
// after a SIGKILL. The key's bytes appear in no file under $HEARTH_HOME but the secrets file (store
// snapshot and journal, egress ledger, daemon log), not in `hearth export` or `hearth egress log`
// output, not in any CLI output, and not in the error a provider echoing it back causes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { HEARTH_BIN, isAlive, type CliResult } from '../helpers/daemon.js';
import { attachEditor, makeHome, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';

const APP = ['export function add(a: number, b: number): number {', '  ', '}', ''].join('\n');

/** `bin/hearth ARGS` with `input` on stdin (a pipe: not a terminal). */
function cliWithStdin(h: HearthHome, args: string[], input: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HEARTH_BIN, ...args], { env: h.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('secrets the daemon holds (hearth secrets set, a scripted provider, bridge-started and crash-restarted daemons)', function () {
  this.timeout(180_000);
  let h: HearthHome;
  let server: ScriptedServer;
  const KEY = `sk-hearth-test-${crypto.randomBytes(24).toString('hex')}`;
  const outputs: string[] = [];
  const keep = (r: CliResult): CliResult => {
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('secrets');
    writeFileAtomic(userPolicyFile(h), [
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
      '    apiKeySecret: scripted-key',
      'routes:',
      '  completion: [scripted, ngram]',
      '',
    ].join('\n'));
    for (const [k, v] of Object.entries(h.env)) assert.ok(!v?.includes(KEY), `the test environment holds the key in ${k}`);
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  it('before the key is set, `hearth policy check` and `hearth doctor` name the missing secret and the command that sets it', async () => {
    const check = keep(await h.cli(['policy', 'check']));
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /ERROR: provider scripted: the secret "scripted-key" \(apiKeySecret\) is not set/);
    assert.match(check.stdout, /fix: hearth secrets set scripted-key/);
    const doctor = keep(await h.cli(['doctor']));
    assert.match(doctor.stdout, /ERROR\s+provider scripted: the secret "scripted-key" \(apiKeySecret\) is not set[^\n]*\n\s+fix: hearth secrets set scripted-key/);
    const list = keep(await h.cli(['secrets', 'list']));
    assert.match(list.stdout, /scripted-key {2}MISSING {2}named by scripted: run `hearth secrets set scripted-key`/);
  });

  it('refuses a value on the command line (nothing is stored)', async () => {
    const r = keep(await h.cli(['secrets', 'set', 'scripted-key', 'sk-on-the-command-line']));
    assert.equal(r.code, 64);
    assert.match(r.stderr, /never on the command line/);
    assert.equal(fs.existsSync(path.join(h.home, 'secrets.json')), false);
  });

  it('`hearth secrets set NAME` reads the value from stdin and stores it 0600; list shows names, never values', async () => {
    const r = keep(await cliWithStdin(h, ['secrets', 'set', 'scripted-key'], `${KEY}\n`));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stored the secret "scripted-key" \(\d+ bytes\)/);
    assert.match(r.stdout, /used by provider\(s\) scripted/);
    const st = fs.statSync(path.join(h.home, 'secrets.json'));
    assert.equal(st.mode & 0o777, 0o600);
    const list = keep(await h.cli(['secrets', 'list']));
    assert.match(list.stdout, new RegExp(`^scripted-key {2}set \\S+ {2}${Buffer.byteLength(KEY)} bytes {2}used by scripted$`, 'm'));
    const check = keep(await h.cli(['policy', 'check']));
    assert.match(check.stdout, /ok: provider scripted: key from the secret "scripted-key" \(set/);
  });

  it('a group-readable secrets file is refused, with the fix', async () => {
    const file = path.join(h.home, 'secrets.json');
    fs.chmodSync(file, 0o640);
    try {
      const r = keep(await h.cli(['secrets', 'list']));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /has mode 0640: group or others can read your keys[^\n]*chmod 600/);
    } finally {
      fs.chmodSync(file, 0o600);
    }
  });

  it('a daemon started by an editor\'s bridge (no key in its environment) sends the key; so does the one restarted after SIGKILL', async () => {
    assert.equal(h.daemonPids().length, 0, 'a daemon runs before the editor attached');
    const root = makeWorkspace(h, 'ws');
    const file = path.join(root, 'app.ts');
    fs.writeFileSync(file, APP);
    const ed = await attachEditor(h, 'vscode', root);
    await ed.open(file, APP);
    const before = server.requests.length;
    const r = await ed.complete(file, 1, 2);
    assert.deepEqual(r.items.map((i) => i.insertText), ['return a + b;']);
    assert.equal(server.requests.length, before + 1);
    assert.equal(server.requests.at(-1)!.headers.authorization, `Bearer ${KEY}`);

    const [pid] = await waitFor('the bridge-started daemon', () => (h.daemonPids().length === 1 ? h.daemonPids() : undefined));
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    assert.ok(!environ.includes(KEY), 'the daemon\'s environment holds the key: the test proves nothing');

    process.kill(pid!, 'SIGKILL');
    await waitFor('the SIGKILLed daemon to be gone', () => !isAlive(pid!));
    const [pid2] = await waitFor('the bridge to start a new daemon', () => {
      const p = h.daemonPids().filter((x) => x !== pid);
      return p.length === 1 ? p : undefined;
    }, 30_000);
    assert.notEqual(pid2, pid);
    // The same buffer again would be answered from the completion cache: change it.
    await ed.lsp.change(`file://${file}`, 2, [{ text: APP.replace('add', 'sum') }]);
    const n = server.requests.length;
    const r2 = await waitFor('a completion from the restarted daemon', async () => {
      const x = await ed.complete(file, 1, 2).catch(() => undefined);
      return x && server.requests.length > n ? x : undefined;
    }, 30_000, 500);
    assert.deepEqual(r2.items.map((i) => i.insertText), ['return a + b;']);
    assert.equal(server.requests.at(-1)!.headers.authorization, `Bearer ${KEY}`);
  });

  it('a provider that echoes the key back in a 401: the editor hears of the failure, the ledger records it (the scan below checks neither holds the key)', async () => {
    server.script({ status: 401, json: { error: { message: `Incorrect API key provided: ${KEY}` } } });
    const root = makeWorkspace(h, 'ws-401');
    const file = path.join(root, 'app.ts');
    const text = APP.replace('add', 'mul');
    fs.writeFileSync(file, text);
    const ed = await attachEditor(h, 'neovim', root);
    await ed.open(file, text);
    const n = server.requests.length;
    await ed.complete(file, 1, 2).catch((e: Error) => outputs.push(e.message));
    await waitFor('the 401 request', () => server.requests.length > n);
    // The failure's reason reaches the editor (the route plan of the fallback, or a log line).
    await waitFor('the editor to hear about the 401', () => ed.lsp.notifications.some((m) => /401/.test(JSON.stringify(m))), 15_000)
      .catch(() => undefined);
    for (const m of ed.lsp.notifications) outputs.push(JSON.stringify(m));
    const log = keep(await h.cli(['egress', 'log', '--json']));
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /401/);
  });

  it('the key is in no file under $HEARTH_HOME but the secrets file, not in hearth export, not in any output', async () => {
    const exported = path.join(h.dir, 'export.json');
    const live = keep(await h.cli(['export', exported]));
    assert.equal(live.code, 0, live.stderr);
    const stop = keep(await h.cli(['stop']));
    assert.equal(stop.code, 0, stop.stderr);
    const offline = path.join(h.dir, 'export-offline.json');
    keep(await h.cli(['export', offline]));
    const needle = Buffer.from(KEY);
    const hits: string[] = [];
    const files = [...filesUnder(h.home), exported, offline];
    for (const f of files) {
      if (f === path.join(h.home, 'secrets.json')) continue;
      if (fs.readFileSync(f).includes(needle)) hits.push(f);
    }
    assert.deepEqual(hits, [], `the key's bytes are in ${hits.join(', ')}`);
    assert.ok(files.some((f) => f.endsWith('daemon.log')), 'no daemon log was checked');
    assert.ok(files.some((f) => f.endsWith(path.join('store', 'snapshot'))), 'no store snapshot was checked');
    assert.ok(fs.readFileSync(path.join(h.home, 'secrets.json')).includes(needle), 'the secrets file does not hold the key: the scan proves nothing');
    for (const o of outputs) assert.ok(!o.includes(KEY), `an output holds the key: ${o.slice(0, 300)}`);
  });

  it('`hearth secrets remove` removes it; policy check then names it missing again', async () => {
    const r = keep(await h.cli(['secrets', 'remove', 'scripted-key']));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.readFileSync(path.join(h.home, 'secrets.json')).includes(Buffer.from(KEY)));
    const check = keep(await h.cli(['policy', 'check']));
    assert.match(check.stdout, /the secret "scripted-key" \(apiKeySecret\) is not set/);
  });
});
