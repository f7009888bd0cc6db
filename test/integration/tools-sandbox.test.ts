// The sandbox as the daemon uses it (issue 6, "Must show" 2): `shell.run` through `hearth/tool/run`
// from a real editor bridge, approved by that editor, run by the real daemon in real bubblewrap.
// The daemon is started with canary environment variables. Shown, each against a control that
// proves the probe itself works:
//   - no connection reaches a listener on 127.0.0.1 (the same probe run directly does connect),
//     and the daemon's own Unix socket is not reachable either;
//   - only the granted path (`writable: [out]` in the rule) can be written: not the rest of the
//     workspace, not .git, not the home, not the host's /tmp;
//   - the command sees none of the daemon's environment (not through `env`, not through /proc),
//     only PATH/HOME/LANG and the one variable its rule grants, whose value is scrubbed from the
//     output and never stored in the audit log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { makeHome, makeWorkspace, type HearthHome } from '../helpers/routing-harness.js';
import { attachToolEditor, auditRecord, toolsUserPolicy, writeUserPolicy, type ToolEditor } from '../helpers/tools-harness.js';

const NODE = '/usr/bin/node';

describe('sandboxed shell.run through the daemon (real bwrap)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let ws: string;
  let ed: ToolEditor;
  let daemonPid: number;
  const canary = `canary-${crypto.randomBytes(8).toString('hex')}`;
  const token = `tok-${crypto.randomBytes(12).toString('hex')}`;

  before(async function () {
    if (!fs.existsSync(NODE)) this.skip(); // the probes are node scripts run from the read-only /usr
    server = await startScriptedServer();
    h = makeHome('tools-sandbox');
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    fs.mkdirSync(path.join(ws, 'out'));
    fs.mkdirSync(path.join(ws, '.git'));
    await writeUserPolicy(h, toolsUserPolicy(server, [
      '  rules:',
      '    - name: node probes may write out/ only',
      '      tool: shell.run',
      `      argv: [${NODE}, "**"]`,
      '      action: ask',
      '      writable: [out]',
      '    - name: printenv gets one credential',
      '      tool: shell.run',
      '      argv: [printenv, "**"]',
      '      action: ask',
      '      env: [HEARTH_GRANTED_TOKEN]',
    ]));
    h.env.HEARTH_TEST_CANARY = canary;
    h.env.HEARTH_GRANTED_TOKEN = token;
    daemonPid = (await h.spawnDaemon()).pid;
    ed = await attachToolEditor(h, 'vscode-sandbox', ws);
    ed.fallback = 'once';
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  const nodeProbe = (script: string) => ed.run('shell.run', { argv: [NODE, '-e', script] });

  it('the daemon really holds the canary variables (control)', () => {
    const env = fs.readFileSync(`/proc/${daemonPid}/environ`, 'latin1').split('\0');
    assert.ok(env.includes(`HEARTH_TEST_CANARY=${canary}`));
    assert.ok(env.includes(`HEARTH_GRANTED_TOKEN=${token}`));
  });

  it('cannot connect to a listener on 127.0.0.1, nor to the daemon socket', async () => {
    let connections = 0;
    const listener = net.createServer((s) => {
      connections++;
      s.end();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    try {
      const script = [
        `const s = require('net').connect(${port}, '127.0.0.1');`,
        "s.on('connect', () => { console.log('CONNECTED'); process.exit(0); });",
        "s.on('error', (e) => { console.log('ERR ' + e.code); process.exit(3); });",
      ].join('\n');
      // Control: the same probe outside the sandbox connects (async: the listener runs in this process).
      const direct = await promisify(execFile)(NODE, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(direct.stdout.trim(), 'CONNECTED', direct.stderr);
      assert.equal(connections, 1);

      const r = await nodeProbe(script);
      assert.equal(ed.approvals.at(-1)!.sandbox?.network, false, 'the approval says: no network');
      assert.equal(r.exitCode, 3, JSON.stringify(r.output));
      assert.match(r.output.stdout, /^ERR (ECONNREFUSED|ENETUNREACH|EADDRNOTAVAIL)/);
      assert.equal(connections, 1, 'no connection from the sandbox reached the listener');
      const rec = await auditRecord(h, r.actionId);
      assert.equal(rec.sandbox.kind, 'bwrap');
      assert.equal(rec.sandbox.network, false);

      const sock = await nodeProbe([
        `const s = require('net').connect(${JSON.stringify(h.paths.socket)});`,
        "s.on('connect', () => { console.log('CONNECTED'); process.exit(0); });",
        "s.on('error', (e) => { console.log('ERR ' + e.code); process.exit(3); });",
      ].join('\n'));
      assert.equal(sock.exitCode, 3, JSON.stringify(sock.output));
      assert.match(sock.output.stdout, /^ERR /);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  it('writes only inside its granted path', async () => {
    const tag = crypto.randomBytes(6).toString('hex');
    const hostTmp = `/tmp/hearth-escape-${tag}`;
    const targets: Record<string, string> = {
      granted: path.join(ws, 'out', 'ok.txt'),
      workspace: path.join(ws, 'not-granted.txt'),
      git: path.join(ws, '.git', 'evil'),
      outside: path.join(h.dir, 'outside.txt'),
      home: path.join(h.home, 'evil.txt'),
      userHome: path.join(os.homedir(), `hearth-escape-${tag}`),
      hostTmp,
    };
    const script = [
      `const targets = ${JSON.stringify(targets)};`,
      'const out = {};',
      "for (const [k, p] of Object.entries(targets)) { try { require('fs').writeFileSync(p, 'x'); out[k] = 'written'; } catch (e) { out[k] = e.code; } }",
      'console.log(JSON.stringify(out));',
    ].join('\n');
    const r = await nodeProbe(script);
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const inside = JSON.parse(r.output.stdout) as Record<string, string>;
    assert.equal(inside.granted, 'written');
    // Bound read-only, or not bound at all (the root is read-only): the write fails.
    for (const k of ['workspace', 'git', 'userHome']) assert.notEqual(inside[k], 'written', `${k}: ${inside[k]}`);
    assert.equal(inside.workspace, 'EROFS');
    // Paths under /tmp land in the sandbox's private tmpfs (the workspace here lives under /tmp), so
    // the write may succeed in there; what matters is that nothing appears on the host (below).
    assert.equal(fs.readFileSync(targets.granted!, 'utf8'), 'x');
    for (const [k, p] of Object.entries(targets)) {
      if (k !== 'granted') assert.equal(fs.existsSync(p), false, `${p} (${k}) must not exist on the host`);
    }
    const rec = await auditRecord(h, r.actionId);
    assert.deepEqual(rec.sandbox.writable, [path.join(ws, 'out')]);
    assert.equal(ed.approvals.at(-1)!.sandbox?.writable.includes('out'), true, `the approval shows the writable paths: ${JSON.stringify(ed.approvals.at(-1)!.sandbox)}`);
  });

  it("sees none of the daemon's environment; only the credential its rule grants, scrubbed from the output", async () => {
    const r = await ed.run('shell.run', { argv: ['env'] });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const lines = (r.output.stdout as string).trim().split('\n');
    const names = lines.map((l) => l.split('=')[0]).sort();
    // bwrap itself sets PWD (to the working directory) after clearing the environment.
    assert.deepEqual(names, ['HOME', 'LANG', 'PATH', 'PWD']);
    assert.ok(lines.includes(`PWD=${ws}`));
    assert.ok(lines.includes('HOME=/tmp'));
    assert.doesNotMatch(r.output.stdout, new RegExp(canary));
    assert.doesNotMatch(r.output.stdout, /HEARTH_HOME|XDG_RUNTIME_DIR|HEARTH_GRANTED_TOKEN/);

    // Nor through /proc: the daemon's process is not visible in the sandbox's pid namespace.
    const proc = await nodeProbe(`try { console.log(require('fs').readFileSync('/proc/${daemonPid}/environ', 'latin1')); } catch (e) { console.log('ERR ' + e.code); }`);
    assert.doesNotMatch(proc.output.stdout, new RegExp(canary));

    const p = await ed.run('shell.run', { argv: ['printenv', 'HEARTH_GRANTED_TOKEN', 'HEARTH_TEST_CANARY'] });
    assert.equal(p.exitCode, 1, 'printenv fails: HEARTH_TEST_CANARY is not set in the sandbox');
    assert.equal(p.output.stdout.trim(), '[REDACTED:HEARTH_GRANTED_TOKEN]', 'the granted token was set, and scrubbed from the output');
    assert.deepEqual(ed.approvals.at(-1)!.sandbox?.env, ['HEARTH_GRANTED_TOKEN']);
    const rec = await auditRecord(h, p.actionId);
    assert.ok(rec.sandbox.env.includes('HEARTH_GRANTED_TOKEN'), 'the audit names the granted variable');
    const exported = await h.cli(['audit', 'export']);
    assert.equal(exported.code, 0);
    assert.ok(!exported.stdout.includes(token), 'the token value is nowhere in the audit log');
    assert.ok(!exported.stdout.includes(canary));
  });
});
