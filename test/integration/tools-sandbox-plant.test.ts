// Nothing planted for later (issue 11, "Must show" 4), through the real daemon, real bubblewrap and
// real git: a granted `shell.run` (approved by the editor that asked) tries to create or change
// every entry that code outside the sandbox runs or trusts (docs/sandbox.md) — directly, by
// creating a parent first, through a symlink, by renaming over it, through a `gitdir:` file, as a
// bare repository, as a nested repository — in a workspace with no .git, and in an initialized
// repository. Afterwards the user's own `git status` (and `git commit`), outside the sandbox,
// runs nothing planted: the planted core.fsmonitor and hooks would write a marker file, and a
// control (the same planting done outside the sandbox) shows that they really do. With the
// explicit `protected: [.git]` grant, `git init` inside the sandbox works, and the approval says so.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROTECTED_ENTRIES } from '../../core/sandbox/index.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { makeHome, makeWorkspace, type HearthHome } from '../helpers/routing-harness.js';
import { attachToolEditor, auditRecord, gitWorkspace, toolsUserPolicy, writeUserPolicy, type ToolEditor } from '../helpers/tools-harness.js';

/** Shell that plants a git directory at `dir` whose fsmonitor and hooks touch `marker`. */
function plantRepo(dir: string, marker: string): string {
  const q = JSON.stringify;
  return [
    `mkdir -p ${q(dir)}/hooks ${q(dir)}/objects ${q(dir)}/refs/heads ${q(dir)}/info`,
    `echo 'ref: refs/heads/main' > ${q(dir)}/HEAD`,
    `printf '[core]\\n\\trepositoryformatversion = 0\\n\\tbare = false\\n\\tfsmonitor = "touch ${marker}; false"\\n' > ${q(dir)}/config`,
    `printf '#!/bin/sh\\ntouch ${marker}\\n' > ${q(dir)}/hooks/pre-commit && chmod +x ${q(dir)}/hooks/pre-commit`,
    `echo '* filter=evil' > ${q(dir)}/info/attributes`,
  ].join(' && ');
}

/** One bash line per attempt: prints `name ok` when every step succeeded, else `name FAIL <first error>`. */
function attempts(list: Record<string, string>): string {
  return Object.entries(list)
    .map(([name, cmd]) => `if out=$( ( ${cmd} ) 2>&1 ); then echo "${name} ok"; else echo "${name} FAIL $(echo "$out" | head -1)"; fi`)
    .join('\n');
}
function verdicts(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split('\n').map((l) => [l.split(' ')[0]!, l.split(' ')[1]!]));
}

/** The user's git, outside the sandbox: a clean environment with an empty home (no global config). */
function userGit(h: HearthHome, cwd: string, ...args: string[]): { code: number | null; out: string } {
  const home = path.join(h.dir, 'user-home');
  fs.mkdirSync(home, { recursive: true });
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'u', GIT_AUTHOR_EMAIL: 'u@u', GIT_COMMITTER_NAME: 'u', GIT_COMMITTER_EMAIL: 'u@u', GIT_CEILING_DIRECTORIES: path.dirname(cwd) },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('nothing planted for later: shell.run cannot create or change what runs outside the sandbox (real bwrap, real git)', function () {
  this.timeout(180_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let markers: string;

  before(async function () {
    if (spawnSync('git', ['--version']).status !== 0) this.skip();
    server = await startScriptedServer();
    h = makeHome('tools-plant');
    markers = path.join(h.dir, 'markers');
    fs.mkdirSync(markers);
    await writeUserPolicy(h, toolsUserPolicy(server, [
      '  rules:',
      '    - name: the agent may run bash scripts',
      '      tool: shell.run',
      '      argv: [bash, "**"]',
      '      action: ask',
      '    - name: git init may create the repository',
      '      tool: shell.run',
      '      argv: [git, init]',
      '      action: ask',
      '      protected: [.git]',
    ]));
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  const editorFor = async (ws: string): Promise<ToolEditor> => {
    const ed = await attachToolEditor(h, `vscode-${path.basename(ws)}`, ws);
    ed.fallback = 'once';
    return ed;
  };

  it('control: the same planting done outside the sandbox makes the user\'s git status and commit run it', () => {
    const ws = makeWorkspace(h, 'control');
    const marker = path.join(markers, 'control');
    execFileSync('bash', ['-c', plantRepo('.git', marker)], { cwd: ws });
    assert.equal(fs.existsSync(marker), false);
    userGit(h, ws, 'status');
    assert.equal(fs.existsSync(marker), true, 'the planted core.fsmonitor ran on a plain git status');
    fs.rmSync(marker);
    userGit(h, ws, 'commit', '--allow-empty', '-q', '-m', 'x');
    assert.equal(fs.existsSync(marker), true, 'the planted pre-commit hook (or fsmonitor) ran on git commit');
  });

  it('in a workspace with no .git or .hearth: none of the protected entries can be created, by any route; git status runs nothing', async () => {
    const ws = fs.realpathSync(makeWorkspace(h, 'fresh'));
    fs.writeFileSync(path.join(ws, 'app.js'), 'console.log(1)\n');
    const marker = path.join(markers, 'fresh');
    const ed = await editorFor(ws);
    const tries: Record<string, string> = {};
    for (const e of [...PROTECTED_ENTRIES, { name: 'HEAD', kind: 'file' as const }]) {
      const n = e.name;
      const id = n.replace(/[^A-Za-z]/g, '') || 'x';
      if (e.kind === 'dir') {
        tries[`${id}-mkdir`] = `mkdir ${n}`;
        tries[`${id}-parentFirst`] = `mkdir -p ${n}/sub && echo x > ${n}/sub/file`;
        tries[`${id}-asFile`] = `echo x > ${n}`;
      } else {
        tries[`${id}-write`] = `echo 'touch ${marker}' > ${n}`;
        tries[`${id}-asDir`] = `mkdir ${n}`;
      }
      tries[`${id}-symlink`] = `mkdir -p /tmp/elsewhere && ln -s /tmp/elsewhere ${n}`;
      tries[`${id}-symlinkIntoWorkspace`] = `mkdir -p decoy-${id} && ln -s decoy-${id} ${n}`;
      tries[`${id}-renameOver`] = `mkdir -p staged-${id} && mv -T staged-${id} ${n}`;
    }
    Object.assign(tries, {
      plantGitDir: plantRepo('.git', marker),
      plantGitFile: `${plantRepo('hidden-repo', marker)} && echo "gitdir: $PWD/hidden-repo" > .git`,
      plantBare: plantRepo('.', marker),
      hearthPolicy: 'mkdir -p .hearth && printf "version: 1\\n" > .hearth/policy.yaml',
      vscodeTask: 'mkdir -p .vscode && echo "{\\"version\\":\\"2.0.0\\",\\"tasks\\":[{\\"label\\":\\"x\\",\\"command\\":\\"touch\\",\\"runOptions\\":{\\"runOn\\":\\"folderOpen\\"}}]}" > .vscode/tasks.json',
      renameWorkspace: `cd .. && mv -T ${JSON.stringify(ws)} ${JSON.stringify(`${ws}-moved`)}`,
      control: 'echo built > out.txt',
    });
    const r = await ed.run('shell.run', { argv: ['bash', '-c', attempts(tries)] });
    assert.equal(r.exitCode, 0, JSON.stringify(r));
    const got = verdicts(r.output.stdout);
    assert.equal(Object.keys(got).length, Object.keys(tries).length, r.output.stdout);
    assert.equal(got.control, 'ok', 'the rest of the workspace is writable');
    const succeeded = Object.keys(got).filter((k) => k !== 'control' && got[k] !== 'FAIL');
    assert.deepEqual(succeeded, [], `these attempts must fail:\n${r.output.stdout}`);

    // On the host: no protected entry exists, not even an empty placeholder, and the workspace was not moved.
    for (const n of [...PROTECTED_ENTRIES.map((e) => e.name), 'HEAD']) {
      assert.throws(() => fs.lstatSync(path.join(ws, n)), /ENOENT/, `${n} must not exist in the workspace after the run`);
    }
    assert.equal(fs.readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'built\n');
    assert.equal(fs.existsSync(`${ws}-moved`), false);
    // The approval said what stays protected: nothing was granted.
    assert.deepEqual(ed.approvals.at(-1)!.sandbox?.protected, []);
    assert.doesNotMatch(ed.approvals.at(-1)!.reason, /may write/);
    const rec = await auditRecord(h, r.actionId);
    assert.ok(rec.sandbox.protect.includes(path.join(ws, '.git')) && rec.sandbox.protect.includes(path.join(ws, '.hearth')), JSON.stringify(rec.sandbox));

    // The user's own git, outside the sandbox, finds no repository and runs nothing.
    const st = userGit(h, ws, 'status');
    assert.notEqual(st.code, 0, st.out);
    assert.match(st.out, /not a git repository/);
    assert.equal(fs.existsSync(marker), false, 'nothing planted ran');
    await ed.dispose();
  });

  it('a nested repository the command creates is moved aside, and the run says so', async () => {
    const ws = fs.realpathSync(makeWorkspace(h, 'nested'));
    const marker = path.join(markers, 'nested');
    const ed = await editorFor(ws);
    const r = await ed.run('shell.run', { argv: ['bash', '-c', `mkdir -p packages/lib && ${plantRepo('packages/lib/.git', marker)} && echo planted`] });
    assert.equal(r.output.stdout.trim(), 'planted', 'creating it inside the sandbox works (a folder the command made)');
    assert.equal(r.status, 'error');
    assert.match(r.error!, /created .*packages\/lib\/\.git, which git or an editor outside the sandbox would run; Hearth moved it aside/);
    assert.match(r.error!, /protected: \[\.git\]/);
    assert.equal(fs.existsSync(path.join(ws, 'packages', 'lib', '.git')), false);
    const aside = fs.readdirSync(path.join(ws, 'packages', 'lib')).filter((n) => n.startsWith('.git.hearth-blocked-'));
    assert.equal(aside.length, 1);
    const rec = await auditRecord(h, r.actionId);
    assert.equal(rec.result.blocked[0].path, path.join(ws, 'packages', 'lib', '.git'));
    // An editor's repository scan or the user's git in that folder finds nothing to run.
    userGit(h, path.join(ws, 'packages', 'lib'), 'status');
    assert.equal(fs.existsSync(marker), false);
    await ed.dispose();
  });

  it('in an initialized repository: .git/config, hooks and info cannot change, .git cannot be swapped; git status and commit run nothing', async () => {
    const ws = gitWorkspace(h, 'repo');
    const marker = path.join(markers, 'repo');
    const config = fs.readFileSync(path.join(ws, '.git', 'config'));
    const hooks = fs.readdirSync(path.join(ws, '.git', 'hooks')).sort();
    const ed = await editorFor(ws);
    const r = await ed.run('shell.run', {
      argv: ['bash', '-c', attempts({
        config: `printf '\\tfsmonitor = "touch ${marker}; false"\\n' >> .git/config`,
        hook: `printf '#!/bin/sh\\ntouch ${marker}\\n' > .git/hooks/pre-commit`,
        attributes: 'mkdir -p .git/info && echo "* filter=evil" > .git/info/attributes',
        swap: `mv -T .git .git-old && ${plantRepo('.git', marker)}`,
        remove: 'rm -rf .git',
        gitFile: `${plantRepo('hidden', marker)} && rm -rf .git; echo "gitdir: $PWD/hidden" > .git`,
        control: 'echo changed >> README.md',
      })],
    });
    const got = verdicts(r.output.stdout);
    assert.equal(got.control, 'ok', r.output.stdout);
    for (const k of ['config', 'hook', 'attributes', 'swap', 'remove', 'gitFile']) assert.equal(got[k], 'FAIL', `${k} must fail:\n${r.output.stdout}`);
    assert.deepEqual(fs.readFileSync(path.join(ws, '.git', 'config')), config, '.git/config is byte for byte what it was');
    assert.deepEqual(fs.readdirSync(path.join(ws, '.git', 'hooks')).sort(), hooks);
    assert.equal(fs.existsSync(path.join(ws, '.git', 'info', 'attributes')), false);
    assert.equal(fs.statSync(path.join(ws, '.git')).isDirectory(), true);

    const st = userGit(h, ws, 'status', '--porcelain');
    assert.equal(st.code, 0, st.out);
    assert.match(st.out, /^ M README\.md$/m, 'the change the command was allowed to make is there');
    assert.equal(fs.existsSync(marker), false, 'git status ran nothing planted');
    const commit = userGit(h, ws, 'commit', '-q', '-am', 'by the user');
    assert.equal(commit.code, 0, commit.out);
    assert.equal(fs.existsSync(marker), false, 'git commit ran nothing planted');
    await ed.dispose();
  });

  it('with the explicit grant `protected: [.git]`, git init in the sandbox works, and the approval shows the grant', async () => {
    // Without the grant (argv not covered by that rule): git init cannot create the repository.
    const plain = fs.realpathSync(makeWorkspace(h, 'no-grant'));
    const ed1 = await editorFor(plain);
    const denied = await ed1.run('shell.run', { argv: ['git', 'init', '-q'] });
    assert.notEqual(denied.exitCode, 0, JSON.stringify(denied.output));
    assert.deepEqual(ed1.approvals.at(-1)!.sandbox?.protected, []);
    assert.equal(fs.existsSync(path.join(plain, '.git')), false);
    await ed1.dispose();

    const ws = fs.realpathSync(makeWorkspace(h, 'granted'));
    const ed = await editorFor(ws);
    const r = await ed.run('shell.run', { argv: ['git', 'init'] });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(r.exitCode, 0, JSON.stringify(r.output));
    const approval = ed.approvals.at(-1)!;
    assert.deepEqual(approval.argv, ['git', 'init']);
    assert.deepEqual(approval.sandbox?.protected, ['.git'], 'the approval carries the grant');
    assert.match(approval.reason, /git init may create the repository" says ask; WARNING: this command may write \.git\/ \(git runs what its config names/);
    assert.match(approval.reason, /code that runs outside the sandbox/);
    assert.equal(fs.existsSync(path.join(ws, '.git', 'HEAD')), true, 'the repository exists on the host');
    const rec = await auditRecord(h, r.actionId);
    assert.equal(rec.sandbox.protect.includes(path.join(ws, '.git')), false, 'the audit shows .git was not protected for this command');
    assert.ok(rec.sandbox.protect.includes(path.join(ws, '.hearth')), 'the rest stays protected');
    assert.equal(userGit(h, ws, 'status').code, 0);
    await ed.dispose();
  });
});
