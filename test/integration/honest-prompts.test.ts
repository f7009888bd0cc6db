// Honest prompts in the CLI (issue 11, must-show 7): an argv with a right-to-left override
// (U+202E), zero-width joiners and a look-alike `ɡit` (U+0261) reaches the terminal escaped as
// \u{XXXX}, with a warning naming each character and its place, and never raw:
//   - `hearth tool run` on a real pty (util-linux `script`) answering its own approval;
//   - `hearth approve` answering it for another client, and `hearth approve --json` (ASCII only);
//   - and the same rule on an egress confirmation: a Trojan Source buffer's payload.
// Real daemon, real CLI; the escaping is the daemon's (core/text/display.ts), the CLI only prints.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { attachEditor, makeHome, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { auditRecord, waitPending, type ToolResult } from '../helpers/tools-harness.js';
import { hearthOnPty } from '../helpers/daemon.js';
import { EgressConfirm, ToolRun, type Params } from '../../server/protocol.js';

/** `ɡit push origin<ZWJ><ZWJ> <RLO>niam`: reads as "git push origin main" where bidi is honoured. */
export const FORGED_ARGV = ['\u0261it', 'push', 'origin\u200D\u200D', '\u202Eniam'];
export const FORGED_SHOWN = ['\\u{0261}it', 'push', 'origin\\u{200D}\\u{200D}', '\\u{202E}niam'];
export const FORGED_WARNINGS = [
  `argv[0] contains U+0261 LATIN SMALL LETTER SCRIPT G, looks like 'g' (in "\\u{0261}it")`,
  'argv[2] contains U+200D ZERO WIDTH JOINER, an invisible character (2 times)',
  'argv[3] contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control that reorders how the text around it is shown',
];
const RAW = /[\u0261\u200D\u202E]/u;

describe('honest prompts in the CLI: a forged argv is shown escaped and flagged (real pty, real daemon)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let ws: string;

  before(async () => {
    h = makeHome('honest');
    await h.spawnDaemon();
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
  });
  after(async () => {
    await h?.dispose();
  });

  it('`hearth tool run` on a terminal: the prompt shows \\u{0261}it, \\u{200D}, \\u{202E} and the three warnings; the raw characters never reach the terminal', async () => {
    const pty = hearthOnPty(['tool', 'run', 'shell.run', JSON.stringify({ argv: FORGED_ARGV }), '--workspace', ws], h.env);
    try {
      await pty.waitScreen('the approval prompt on the terminal', /once \/ session \/ always \/ deny\? /);
      const screen = pty.screen();
      // The daemon's text rendering of the prompt (core/text/display.ts approvalLines).
      assert.ok(screen.includes(`argv         [${FORGED_SHOWN.map((a) => `"${a}"`).join(', ')}]`), screen);
      assert.ok(screen.includes(`cwd          ${ws}`), screen);
      assert.ok(screen.includes('!! WARNING: 3 things in this request can disguise what it does'), screen);
      for (const w of FORGED_WARNINGS) assert.ok(screen.includes(`!!   ${w}`), `missing warning ${w}:\n${screen}`);
      // The warnings come right before the question, after the request itself.
      assert.ok(screen.lastIndexOf('!! WARNING') > screen.indexOf('argv         ['), screen);
      assert.doesNotMatch(screen, RAW, 'a raw bidi/invisible/look-alike character reached the terminal');
      pty.type('deny\r');
      assert.equal(await pty.exited, 1, pty.screen());
    } finally {
      pty.kill();
    }
    const actionId = /action ([0-9a-f-]{36})/.exec(pty.screen())?.[1];
    assert.ok(actionId, pty.screen());
    const rec = await auditRecord(h, actionId);
    assert.equal(rec.decision.grant, 'deny');
    // The audit keeps the exact argv (the display form is for people; the record is the data).
    assert.deepEqual(rec.args.argv, FORGED_ARGV);
  });

  it('`hearth approve`: the listed approval is escaped and flagged; `--json` is ASCII only and carries the display form', async () => {
    const c = await h.connect({ name: 'agent-forged', version: '1', kind: 'test' });
    const run = c.connection.sendRequest(ToolRun.method, { tool: 'shell.run', args: { argv: FORGED_ARGV }, workspaceRoot: ws }) as Promise<ToolResult>;
    const [p] = await waitPending(h, 1);
    assert.deepEqual(p.request.argv, FORGED_ARGV, 'the raw argv is still there for machines');
    assert.deepEqual(p.request.display.argv, FORGED_SHOWN);
    assert.deepEqual(p.request.display.warnings.map((w: { message: string }) => w.message), FORGED_WARNINGS);
    const json = await h.cli(['approve', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stdout, /^[\x00-\x7f]*$/, 'hearth approve --json printed non-ASCII characters');
    assert.deepEqual(JSON.parse(json.stdout)[0].request.argv, FORGED_ARGV, 'the escaped JSON is the same data');

    const ans = await h.cli(['approve', '--answer', 'deny']);
    assert.equal(ans.code, 0, ans.stderr);
    assert.ok(ans.stdout.includes(`argv         [${FORGED_SHOWN.map((a) => `"${a}"`).join(', ')}]`), ans.stdout);
    for (const w of FORGED_WARNINGS) assert.ok(ans.stdout.includes(w), `missing warning ${w}:\n${ans.stdout}`);
    assert.doesNotMatch(ans.stdout, RAW);
    const r = await run;
    assert.equal(r.status, 'denied');
    c.close();
  });

  it('normal Unicode in an argv passes unflagged: no warnings, shown as typed', async () => {
    const pty = hearthOnPty(['tool', 'run', 'shell.run', JSON.stringify({ argv: ['touch', 'café-日本語-Привет.txt'] }), '--workspace', ws], h.env);
    try {
      await pty.waitScreen('the approval prompt on the terminal', /once \/ session \/ always \/ deny\? /);
      assert.ok(pty.screen().includes('argv         ["touch", "café-日本語-Привет.txt"]'), pty.screen());
      assert.doesNotMatch(pty.screen(), /WARNING/);
      pty.type('once\r');
      assert.equal(await pty.exited, 0, pty.screen());
    } finally {
      pty.kill();
    }
    assert.ok(fs.existsSync(path.join(ws, 'café-日本語-Привет.txt')));
  });
});

describe('honest prompts in an egress confirmation: a Trojan Source buffer is shown escaped and flagged (real daemon, scripted cloud on 127.0.0.1)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let server: ScriptedServer;

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('honest-egress');
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
      'routes:',
      '  completion: [scripted, ngram]',
      'rules:',
      '  - name: ask before code leaves',
      '    location: cloud',
      '    action: ask',
      '',
    ].join('\n'));
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  it('the payload in hearth/egress/confirm carries a display form with \\u{202E}, \\u{2066}, \\u{2069} and a warning per line; nothing is sent after deny', async () => {
    const root = makeWorkspace(h, 'ws');
    const file = path.join(root, 'access.ts');
    const text = [
      'export function canDelete(user: { role: string }): boolean {',
      '  const isAdmin = user.role === "admin";',
      '  /*\u202E } \u2066if (isAdmin)\u2069 \u2066 begin admins only */',
      '  return ',
      '}',
      '',
    ].join('\n');
    fs.writeFileSync(file, text);
    const ed = await attachEditor(h, 'vscode', root);
    await ed.open(file, text);
    ed.fallback = 'deny';
    const before = server.requests.length;
    await ed.complete(file, 3, 9).catch(() => undefined);
    await waitFor('the confirm request in the requesting editor', () => ed.confirms.length >= 1 || undefined);
    const shown = ed.confirms[0] as unknown as Params<typeof EgressConfirm>;
    assert.match(shown.payload, /\u202E/u, 'the raw payload (what would be sent) still holds the bidi control');
    assert.ok(shown.display, 'no display form in hearth/egress/confirm');
    assert.doesNotMatch(shown.display.payload, /[\u202E\u2066\u2069]/u);
    assert.ok(shown.display.payload.includes('/*\\u{202E} } \\u{2066}if (isAdmin)\\u{2069} \\u{2066} begin admins only */'), shown.display.payload);
    const codes = shown.display.warnings.map((w) => `${w.where.replace(/ line \d+$/, '')} ${w.code} ${w.kind}`);
    assert.deepEqual([...new Set(codes)].sort(), ['payload U+202E bidi', 'payload U+2066 bidi', 'payload U+2069 bidi']);
    assert.ok(shown.display.warnings.every((w) => /^payload line \d+ contains U\+20(2E|66|69) /.test(w.message)), JSON.stringify(shown.display.warnings));
    assert.equal(shown.display.host, server.host);
    assert.equal(server.requests.length, before, 'nothing was sent after the deny');
  });
});
