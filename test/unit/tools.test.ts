import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError } from '../../core/policy/index.js';
import { Store } from '../../core/store/index.js';
import {
  ToolExecutor,
  destructiveReason,
  matchArgv,
  parseAnthropicToolUse,
  parseOpenAIToolCalls,
  toolPolicyFromText,
  type ApprovalChoice,
  type ApprovalRequest,
  type ToolPolicy,
} from '../../core/tools/index.js';

const proposer = { model: 'qwen2.5-coder:1.5b', provider: 'ollama' };
const requester = { clientId: 'client-7', name: 'Neovim', kind: 'editor' };

/** An approve callback that answers from a script and records every request. */
function scripted(...answers: ApprovalChoice[]) {
  const requests: ApprovalRequest[] = [];
  const fn = async (r: ApprovalRequest): Promise<ApprovalChoice> => {
    requests.push(r);
    const a = answers.shift();
    if (!a) throw new Error(`unexpected approval prompt for ${r.tool} ${JSON.stringify(r.argv ?? r.path)}`);
    return a;
  };
  return Object.assign(fn, { requests });
}

describe('capability patterns', () => {
  it('matches argv element by element, never by prefix or as a shell string', () => {
    assert.ok(matchArgv(['git', 'status'], ['git', 'status']));
    assert.ok(!matchArgv(['git', 'status'], ['git', 'status;rm']));
    assert.ok(!matchArgv(['git', 'status'], ['git', 'status', '&&', 'rm', '-rf', '/']));
    assert.ok(!matchArgv(['git', 'status'], ['git']));
    assert.ok(!matchArgv(['git', 'status'], ['git-status']));
    assert.ok(matchArgv(['git', '*'], ['git', 'log']));
    assert.ok(!matchArgv(['git', '*'], ['git', 'log', '-p']));
    assert.ok(matchArgv(['git', 'log', '**'], ['git', 'log']));
    assert.ok(matchArgv(['git', 'log', '**'], ['git', 'log', '-p', '--stat']));
    assert.ok(matchArgv(['echo', '\\*'], ['echo', '*']));
    assert.ok(!matchArgv(['echo', '\\*'], ['echo', 'x']));
  });

  it('recognises destructive commands, also behind wrappers and sh -c', () => {
    for (const argv of [
      ['rm', '-rf', '/'],
      ['/bin/rm', '-r', '-f', '/'],
      ['rm', '-fr', '~'],
      ['rm', '--recursive', '--force', '/*'],
      ['rm', '-rf', '--no-preserve-root', 'x'],
      ['sudo', 'ls'],
      ['env', 'FOO=1', 'rm', '-rf', '/'],
      ['sh', '-c', 'cd /tmp && rm -rf /'],
      ['bash', '-c', 'true; rm -rf "$HOME"'],
      ['mkfs.ext4', '/dev/sda1'],
      ['dd', 'if=/dev/zero', 'of=/dev/sda'],
      ['chmod', '-R', '777', '/'],
    ]) {
      assert.ok(destructiveReason(argv), `${JSON.stringify(argv)} must be destructive`);
    }
    for (const argv of [['rm', '-rf', 'build'], ['rm', 'x'], ['git', 'status'], ['dd', 'if=a', 'of=/dev/null'], ['sh', '-c', 'echo hi']]) {
      assert.equal(destructiveReason(argv), null, `${JSON.stringify(argv)} is not destructive`);
    }
  });

  it('reports bad tool rules with their line, and a workspace policy can only tighten', () => {
    assert.throws(
      () => toolPolicyFromText('tools:\n  rules:\n    - tool: shell.run\n      argv: [git, "**", status]\n      action: allow\n', '/p.yaml'),
      (e: PolicyError) => /\/p\.yaml:4:\d+: tools\.rules\[0\]\.argv "\*\*" may only be the last element/.test(e.message),
    );
    assert.throws(
      () => toolPolicyFromText('tools:\n  rules:\n    - tool: fs.read\n      hosts: example.com\n      action: allow\n', '/p.yaml'),
      (e: PolicyError) => /\/p\.yaml:4:\d+: tools\.rules\[0\]\.hosts does not apply to fs\.read/.test(e.message),
    );
    assert.throws(() => toolPolicyFromText('tools:\n  rules:\n    - tool: shell.run\n      acton: allow\n', '/p.yaml'), /p\.yaml:4:7: tools\.rules\[0\]\.acton is not a known key \(did you mean "action"\?\)/);
    const p = toolPolicyFromText(
      'tools:\n  default: ask\n  rules:\n    - { tool: shell.run, argv: [make], action: allow, network: true }\n',
      '/user.yaml',
      'tools:\n  default: allow\n  unsandboxed: allow\n  rules:\n    - { tool: shell.run, argv: [npm, test], action: allow }\n    - { tool: shell.run, argv: [make], action: ask, network: true, env: [TOKEN] }\n',
      '/ws/.hearth/policy.yaml',
    );
    assert.equal(p.default.action, 'ask');
    assert.equal(p.unsandboxed, false);
    const warnings = p.warnings.map((w) => `${w.line}:${w.path} ${w.message}`).join('\n');
    assert.match(warnings, /2:tools\.default would loosen/);
    assert.match(warnings, /tools\.unsandboxed is ignored/);
    assert.match(warnings, /5:tools\.rules\[0\] is an allow rule/);
    assert.match(warnings, /tools\.rules\[1\]\.network is ignored/);
    assert.equal(p.rules.filter((r) => r.scope === 'workspace').length, 1);
  });
});

describe('tool executor', function () {
  this.timeout(60_000);
  let home: string;
  let ws: string;
  let storeDir: string;
  let store: Store;

  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), 'hearth-tools-'));
    ws = join(home, 'ws');
    storeDir = join(home, 'store');
    mkdirSync(ws);
    execFileSync('git', ['init', '-q', ws]);
    writeFileSync(join(ws, 'README.md'), '# demo\n');
    store = await Store.open(storeDir);
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });

  const call = (tool: string, args: unknown) => ({ tool, args, proposer, requester, workspaceRoot: ws });

  it('denies shell.run ["rm","-rf","/"] by the default policy without a prompt', async () => {
    const approve = scripted();
    const ex = new ToolExecutor({ store, approve });
    const r = await ex.runToolCall(call('shell.run', { argv: ['rm', '-rf', '/'] }));
    assert.equal(r.status, 'denied');
    assert.equal(approve.requests.length, 0);
    assert.match(r.error!, /destructive commands are refused.*rm -r on \//);
    const rec = ex.audit.list().at(-1)!;
    assert.equal(rec.tool, 'shell.run');
    assert.deepEqual(rec.decision, { policy: 'deny', rule: r.decision.rule, outcome: 'denied', by: 'policy', grant: null, approvedBy: null });
    assert.equal(rec.sandbox, null);
  });

  it('asks for ["git","status"]: deny runs nothing; once runs sandboxed and asks again next time', async () => {
    const approve = scripted('deny', 'once', 'deny');
    const ex = new ToolExecutor({ store, approve });
    const denied = await ex.runToolCall({ ...call('shell.run', { argv: ['git', 'status'] }), rationale: 'see what changed' });
    assert.equal(denied.status, 'denied');
    assert.equal(denied.output, null);
    const req = approve.requests[0]!;
    assert.deepEqual(req.argv, ['git', 'status']);
    assert.deepEqual(req.proposer, proposer);
    assert.deepEqual(req.requester, requester);
    assert.equal(req.rationale, 'see what changed');
    assert.match(req.reason, /tools default: no rule matched/);
    assert.deepEqual(req.choices, ['once', 'session', 'always', 'deny']);

    const once = await ex.runToolCall(call('shell.run', { argv: ['git', 'status'] }));
    assert.equal(once.status, 'ok', once.error ?? '');
    assert.equal(once.exitCode, 0);
    assert.match((once.output as { stdout: string }).stdout, /No commits yet|On branch/);
    const rec = ex.audit.list().at(-1)!;
    assert.equal((rec.sandbox as { kind: string }).kind, 'bwrap');
    assert.equal((rec.sandbox as { network: boolean }).network, false);
    assert.equal(rec.decision.grant, 'once');
    assert.equal(rec.decision.approvedBy, 'client-7');
    assert.equal(rec.exitCode, 0);

    const again = await ex.runToolCall(call('shell.run', { argv: ['git', 'status'] }));
    assert.equal(approve.requests.length, 3, 'once does not carry over to the next identical call');
    assert.equal(again.status, 'denied');
    assert.equal(ex.listGrants().length, 0);
    assert.equal(ex.audit.verify().ok, true);
  });

  it('a declined command does not run at all', async () => {
    const ex = new ToolExecutor({ store, approve: scripted('deny') });
    await ex.runToolCall(call('shell.run', { argv: ['touch', 'marker'] }));
    assert.equal(existsSync(join(ws, 'marker')), false);
  });

  it('"always" persists in the store: a new executor on the reopened store does not ask', async () => {
    const ex = new ToolExecutor({ store, approve: scripted('always') });
    assert.equal((await ex.runToolCall(call('shell.run', { argv: ['git', 'status'] }))).status, 'ok');
    const [g] = ex.listGrants();
    assert.equal(g?.scope, 'always');
    assert.ok(g?.expiresAt && g.expiresAt > new Date(Date.now() + 80 * 86_400_000).toISOString(), 'expires after the default 90 days');
    await store.close();

    store = await Store.open(storeDir);
    const approve = scripted();
    const ex2 = new ToolExecutor({ store, approve });
    const r = await ex2.runToolCall(call('shell.run', { argv: ['git', 'status'] }));
    assert.equal(r.status, 'ok');
    assert.equal(approve.requests.length, 0);
    assert.equal(r.decision.by, 'grant');
    // An argv that differs in any element is a different call: it asks (the script has no answer: denied).
    assert.equal((await ex2.runToolCall(call('shell.run', { argv: ['git', 'status', '--short'] }))).status, 'denied');
    assert.equal(approve.requests.length, 1);
    // Revoked: asks again.
    assert.equal(await ex2.revokeGrant(g!.id), true);
    assert.equal(ex2.listGrants().length, 0);
    assert.equal((await ex2.runToolCall(call('shell.run', { argv: ['git', 'status'] }))).status, 'denied');
    assert.equal(approve.requests.length, 2);
  });

  it('"session" lasts for this executor only, and expires', async () => {
    let now = Date.now();
    const ex = new ToolExecutor({ store, approve: scripted('session', 'deny'), now: () => new Date(now), sessionGrantTtlMs: 60_000 });
    await ex.runToolCall(call('shell.run', { argv: ['true'] }));
    assert.equal((await ex.runToolCall(call('shell.run', { argv: ['true'] }))).decision.by, 'grant');
    now += 61_000;
    assert.equal((await ex.runToolCall(call('shell.run', { argv: ['true'] }))).status, 'denied');
    const ex2 = new ToolExecutor({ store, approve: scripted('deny') });
    assert.equal((await ex2.runToolCall(call('shell.run', { argv: ['true'] }))).status, 'denied');
  });

  it('a deny rule wins over a grant and over an allow rule', async () => {
    const policy: ToolPolicy = toolPolicyFromText(
      'tools:\n  rules:\n    - { tool: shell.run, argv: [git, "**"], action: allow }\n    - { tool: shell.run, argv: [git, push, "**"], action: deny }\n',
    );
    const approve = scripted();
    const ex = new ToolExecutor({ store, approve, policy: () => policy });
    assert.equal((await ex.runToolCall(call('shell.run', { argv: ['git', 'status'] }))).status, 'ok');
    const push = await ex.runToolCall(call('shell.run', { argv: ['git', 'push', 'origin'] }));
    assert.equal(push.status, 'denied');
    assert.match(push.error!, /policy\.yaml:4/);
    assert.equal(approve.requests.length, 0);
  });

  it('fs.edit: the prompt holds the diff, approval changes the file, the audit record holds the diff, undo restores every byte', async () => {
    const file = join(ws, 'src.txt');
    const original = Buffer.from('line one\r\nzwei – ü\nthree\nno newline at end', 'utf8');
    writeFileSync(file, original);
    const approve = scripted('once');
    const ex = new ToolExecutor({ store, approve });
    const r = await ex.runToolCall(call('fs.edit', { path: 'src.txt', edits: [{ search: 'three', replace: 'THREE\nfour' }] }));
    assert.equal(r.status, 'ok', r.error ?? '');
    const req = approve.requests[0]!;
    assert.equal(req.tool, 'fs.edit');
    assert.match(req.diff!, /^--- a\/src\.txt/m);
    assert.match(req.diff!, /^-three$/m);
    assert.match(req.diff!, /^\+THREE$/m);
    assert.equal(readFileSync(file, 'utf8'), 'line one\r\nzwei – ü\nTHREE\nfour\nno newline at end');
    const rec = ex.audit.get(r.actionId)!;
    assert.deepEqual(rec.filesChanged, [{ path: file, diff: req.diff }]);

    const u = await ex.undo(r.actionId, requester);
    assert.equal(u.status, 'ok', u.error ?? '');
    assert.ok(readFileSync(file).equals(original), 'restored byte for byte');
    const undoRec = ex.audit.list().at(-1)!;
    assert.equal(undoRec.tool, 'fs.undo');
    assert.match(undoRec.filesChanged[0]!.diff, /^\+three$/m);
    assert.equal((await ex.undo(r.actionId, requester)).status, 'error', 'cannot undo twice');
    assert.equal(ex.audit.verify().ok, true);
  });

  it('fs.edit applies a unified diff; a stale diff is refused; undo of a created file deletes it', async () => {
    writeFileSync(join(ws, 'a.txt'), 'a\nb\nc\n');
    const ex = new ToolExecutor({ store, approve: scripted('session', 'once') });
    const diff = '--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n';
    assert.equal((await ex.runToolCall(call('fs.edit', { path: 'a.txt', diff }))).status, 'ok');
    assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'a\nB\nc\n');
    const stale = await ex.runToolCall(call('fs.edit', { path: 'a.txt', diff }));
    assert.equal(stale.status, 'error');
    assert.match(stale.error!, /does not apply/);
    const created = await ex.runToolCall(call('fs.edit', { path: 'new/../new.txt', content: 'fresh\n' }));
    assert.equal(created.status, 'ok', created.error ?? '');
    assert.equal(readFileSync(join(ws, 'new.txt'), 'utf8'), 'fresh\n');
    assert.equal((await ex.undo(created.actionId, requester)).status, 'ok');
    assert.equal(existsSync(join(ws, 'new.txt')), false);
  });

  it('fs.edit declined leaves the file alone; undo refuses when the file changed since', async () => {
    writeFileSync(join(ws, 'x.txt'), 'x\n');
    const ex = new ToolExecutor({ store, approve: scripted('deny', 'once') });
    await ex.runToolCall(call('fs.edit', { path: 'x.txt', content: 'y\n' }));
    assert.equal(readFileSync(join(ws, 'x.txt'), 'utf8'), 'x\n');
    const r = await ex.runToolCall(call('fs.edit', { path: 'x.txt', content: 'y\n' }));
    writeFileSync(join(ws, 'x.txt'), 'user kept typing\n');
    const u = await ex.undo(r.actionId, requester);
    assert.equal(u.status, 'error');
    assert.match(u.error!, /has changed since/);
    assert.equal(readFileSync(join(ws, 'x.txt'), 'utf8'), 'user kept typing\n');
  });

  it('paths are resolved: .. and symlinks cannot escape the workspace', async () => {
    const outside = join(home, 'outside.txt');
    writeFileSync(outside, 'secret\n');
    symlinkSync(home, join(ws, 'link'));
    const approve = scripted('deny', 'deny');
    const ex = new ToolExecutor({ store, approve });
    for (const path of ['../outside.txt', 'link/outside.txt', outside]) {
      const r = await ex.runToolCall(call('fs.edit', { path, content: 'pwned\n' }));
      assert.equal(r.status, 'error');
      assert.match(r.error!, /outside the workspace/);
    }
    assert.equal(readFileSync(outside, 'utf8'), 'secret\n');
    // Reading inside the workspace is allowed without a prompt; through the symlink it is outside: ask.
    assert.equal((await ex.runToolCall(call('fs.read', { path: 'README.md' }))).status, 'ok');
    assert.equal(approve.requests.length, 0);
    assert.equal((await ex.runToolCall(call('fs.read', { path: 'link/outside.txt' }))).status, 'denied');
    assert.equal(approve.requests[0]!.path, outside);
    writeFileSync(join(ws, '.env'), 'TOKEN=1\n');
    assert.equal((await ex.runToolCall(call('fs.read', { path: '.env' }))).status, 'denied');
    assert.equal(approve.requests.length, 2, '.env inside the workspace still asks');
  });

  it('shell.run writes only inside the workspace, never into .git, and gets only granted variables', async () => {
    process.env.HEARTH_EXEC_CANARY = 'canary-value';
    process.env.HEARTH_GRANTED = 'granted-value';
    try {
      const policy = toolPolicyFromText('tools:\n  rules:\n    - { tool: shell.run, argv: [sh, "**"], action: allow, env: [HEARTH_GRANTED] }\n');
      const ex = new ToolExecutor({ store, approve: scripted(), policy: () => policy });
      const script = `echo ok > inside.txt; echo x > .git/hooked 2>/dev/null || echo git-protected; echo x > ${home}/escape.txt; echo x > /tmp/escape.txt; env`;
      const r = await ex.runToolCall(call('shell.run', { argv: ['sh', '-c', script] }));
      const out = (r.output as { stdout: string }).stdout;
      assert.equal(readFileSync(join(ws, 'inside.txt'), 'utf8'), 'ok\n');
      assert.match(out, /git-protected/);
      // Writes outside the workspace land in the sandbox's private /tmp at most, never on the host.
      assert.equal(existsSync(join(home, 'escape.txt')), false);
      assert.equal(existsSync('/tmp/escape.txt'), false);
      assert.match(out, /^HEARTH_GRANTED=\[REDACTED:HEARTH_GRANTED\]$/m, 'the command saw it; the output returned is scrubbed');
      assert.doesNotMatch(out, /canary-value/);
      const sandbox = ex.audit.list().at(-1)!.sandbox as { env: string[] };
      assert.ok(sandbox.env.includes('HEARTH_GRANTED'));
      assert.ok(!JSON.stringify(ex.audit.list()).includes('granted-value'), 'credential values never reach the audit log');
    } finally {
      delete process.env.HEARTH_EXEC_CANARY;
      delete process.env.HEARTH_GRANTED;
    }
  });

  it('shell.run records in the audit which files it created, modified and deleted (created text in full)', async () => {
    const policy = toolPolicyFromText('tools:\n  rules:\n    - { tool: shell.run, argv: [sh, "**"], action: allow }\n');
    const ex = new ToolExecutor({ store, approve: scripted(), policy: () => policy });
    mkdirSync(join(ws, 'src'), { recursive: true });
    writeFileSync(join(ws, 'src', 'keep.txt'), 'unchanged\n');
    writeFileSync(join(ws, 'src', 'edit.txt'), 'old\n');
    writeFileSync(join(ws, 'gone.txt'), 'bye\n');
    const script = 'printf "line one\\nline two\\n" > src/new.txt; printf "new content\\n" > src/edit.txt; rm gone.txt; head -c 70000 /dev/zero > big.bin';
    const r = await ex.runToolCall(call('shell.run', { argv: ['sh', '-c', script] }));
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const rec = ex.audit.list().at(-1)!;
    const changed = rec.filesChanged as Array<{ path: string; diff: string }>;
    assert.deepEqual(changed.map((c) => c.path), [join(ws, 'big.bin'), join(ws, 'gone.txt'), join(ws, 'src', 'edit.txt'), join(ws, 'src', 'new.txt')],
      'exactly the changed files, not src/keep.txt');
    const byName = (n: string) => changed.find((c) => c.path.endsWith(n))!.diff;
    assert.match(byName('new.txt'), /\+\+\+ b\/src\/new\.txt[\s\S]*\+line one\n\+line two/);
    assert.match(byName('edit.txt'), /^modified src\/edit\.txt: 4 -> 12 bytes, sha256 now [0-9a-f]{64}/);
    assert.equal(byName('gone.txt'), 'deleted gone.txt (4 bytes)');
    assert.match(byName('big.bin'), /^created big\.bin \(70000 bytes, sha256 [0-9a-f]{64}\)$/);
    assert.equal((r.output as { exitCode: number }).exitCode, 0);
    assert.equal(ex.audit.verify().ok, true);
  });

  it('shell.run in a git workspace: a tracked file that was clean before gets its line diff in the audit, from git run in the sandbox', async () => {
    const git = (...a: string[]) => execFileSync('git', ['-C', ws, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...a]);
    writeFileSync(join(ws, 'app.ts'), 'const mode = "old";\nexport default mode;\n');
    writeFileSync(join(ws, 'dirty.ts'), 'let a = 1;\n');
    git('add', 'app.ts', 'dirty.ts');
    git('commit', '-q', '-m', 'base');
    writeFileSync(join(ws, 'dirty.ts'), 'let a = 2;\n'); // modified before the run: its index content is not "before"
    const policy = toolPolicyFromText('tools:\n  rules:\n    - { tool: shell.run, argv: [sh, "**"], action: allow }\n');
    const ex = new ToolExecutor({ store, approve: scripted(), policy: () => policy });
    const index = readFileSync(join(ws, '.git', 'index'));
    const r = await ex.runToolCall(call('shell.run', { argv: ['sh', '-c', 'sed -i s/old/new/ app.ts; echo "let a = 3;" > dirty.ts'] }));
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const changed = ex.audit.list().at(-1)!.filesChanged as Array<{ path: string; diff: string }>;
    const app = changed.find((c) => c.path === join(ws, 'app.ts'))!.diff;
    assert.match(app, /^diff --git a\/app\.ts b\/app\.ts/);
    assert.match(app, /^-const mode = "old";$/m);
    assert.match(app, /^\+const mode = "new";$/m);
    const dirty = changed.find((c) => c.path === join(ws, 'dirty.ts'))!.diff;
    assert.match(dirty, /^modified dirty\.ts: 11 -> 11 bytes, sha256 now [0-9a-f]{64} \(content before the run was not kept\)$/);
    assert.deepEqual(readFileSync(join(ws, '.git', 'index')), index, 'reading the diff did not touch the index');
  });

  it('refuses commands when bwrap is missing (with an install hint) unless the user policy allows unsandboxed runs', async () => {
    const approve = scripted();
    const ex = new ToolExecutor({ store, approve, bwrapPath: null, policy: () => toolPolicyFromText('tools:\n  rules:\n    - { tool: shell.run, argv: [pwd], action: allow }\n') });
    const r = await ex.runToolCall(call('shell.run', { argv: ['pwd'] }));
    assert.equal(r.status, 'error');
    assert.match(r.error!, /apt-get install bubblewrap/);
    const ex2 = new ToolExecutor({ store, approve, bwrapPath: null, policy: () => toolPolicyFromText('tools:\n  unsandboxed: allow\n  rules:\n    - { tool: shell.run, argv: [pwd], action: allow }\n') });
    const r2 = await ex2.runToolCall(call('shell.run', { argv: ['pwd'] }));
    assert.equal(r2.status, 'ok');
    assert.equal((ex2.audit.list().at(-1)!.sandbox as { kind: string }).kind, 'unsandboxed');
  });

  describe('http.fetch', () => {
    let server: Server;
    let port: number;
    let hits = 0;
    before(async () => {
      server = createServer((_req, res) => (hits++, res.end('pong')));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it('fetches from an allow-listed host without a prompt; other hosts ask', async () => {
      const policy = toolPolicyFromText(`tools:\n  rules:\n    - { tool: http.fetch, hosts: ["127.0.0.1:${port}"], action: allow }\n`);
      const approve = scripted('deny');
      // The daemon wires the egress gate's fetch here; this unit test talks to its own local server.
      const ex = new ToolExecutor({ store, approve, policy: () => policy, httpFetchFor: () => globalThis.fetch });
      const r = await ex.runToolCall(call('http.fetch', { url: `http://127.0.0.1:${port}/ping` }));
      assert.equal(r.status, 'ok', r.error ?? '');
      assert.equal((r.output as { body: string }).body, 'pong');
      const other = await ex.runToolCall(call('http.fetch', { url: `http://localhost:${port}/ping` }));
      assert.equal(other.status, 'denied');
      assert.equal(approve.requests[0]!.host, `localhost:${port}`);
    });

    it('sends nothing when no egress-gated fetch is wired (no fallback to the global fetch)', async () => {
      const policy = toolPolicyFromText(`tools:\n  rules:\n    - { tool: http.fetch, hosts: ["127.0.0.1:${port}"], action: allow }\n`);
      const ex = new ToolExecutor({ store, approve: scripted('deny'), policy: () => policy });
      const before = hits;
      const r = await ex.runToolCall(call('http.fetch', { url: `http://127.0.0.1:${port}/ping` }));
      assert.notEqual(r.status, 'ok');
      assert.match(r.error ?? '', /not connected to the egress gate/);
      assert.equal(hits, before, 'the server was not contacted');
    });
  });

  it('memory.write goes to the injected writer', async () => {
    const written: string[] = [];
    const ex = new ToolExecutor({ store, approve: scripted('once'), memoryWriter: async (m) => (written.push(m.text), { id: 'm1' }) });
    const r = await ex.runToolCall(call('memory.write', { text: 'we use tabs' }));
    assert.deepEqual(r.output, { id: 'm1' });
    assert.deepEqual(written, ['we use tabs']);
  });

  it('bad arguments and unknown tools are refused with a clear message and audited', async () => {
    const ex = new ToolExecutor({ store, approve: scripted() });
    const r = await ex.runToolCall(call('shell.run', { argv: 'git status' }));
    assert.equal(r.status, 'error');
    assert.match(r.error!, /invalid arguments for shell\.run: \/argv must be array/);
    assert.match((await ex.runToolCall(call('rm.everything', {}))).error!, /unknown tool "rm\.everything"/);
    assert.equal(ex.audit.list().length, 2);
  });

  it('turns OpenAI tool_calls and Anthropic tool_use blocks into the same call', async () => {
    const openai = parseOpenAIToolCalls({
      role: 'assistant',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'shell_run', arguments: '{"argv":["git","status"]}' } }],
    });
    const anthropic = parseAnthropicToolUse({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Let me look.' },
        { type: 'tool_use', id: 'toolu_1', name: 'shell_run', input: { argv: ['git', 'status'] } },
      ],
    });
    assert.deepEqual(openai.map(({ tool, args }) => ({ tool, args })), anthropic.map(({ tool, args }) => ({ tool, args })));
    assert.deepEqual(openai[0], { id: 'call_1', tool: 'shell.run', args: { argv: ['git', 'status'] } });
    assert.throws(() => parseOpenAIToolCalls([{ id: 'x', type: 'function', function: { name: 'shell_run', arguments: '{argv' } }]), /tool_calls\[0\]\.function\.arguments is not valid JSON/);
    assert.throws(() => parseAnthropicToolUse([{ type: 'tool_use', id: 't', name: 'format_disk', input: {} }]), /unknown tool "format_disk"/);
    const ex = new ToolExecutor({ store, approve: scripted('once') });
    const r = await ex.runToolCall(call(anthropic[0]!.tool, anthropic[0]!.args));
    assert.equal(r.status, 'ok');
  });
});
