import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PolicyError,
  PolicyWatcher,
  applyWorkspacePolicy,
  compileUserPolicy,
  defaultPolicy,
  formatDiagnostic,
  loadUserPolicy,
  loadWorkspacePolicy,
  parsePolicyText,
  type PolicyInvalidEvent,
} from '../../core/policy/index.js';
import { planRoute, type ProviderDescriptor } from '../../core/routing/index.js';

const GOOD = `version: 1
default:
  cloud: ask
providers:
  - id: cloud-gpt
    kind: openai
    baseUrl: https://api.example.com/v1
    model: gpt-test
    apiKeyEnv: EXAMPLE_API_KEY
rules:
  - name: completions may go to the cloud
    feature: completion
    location: cloud
    action: allow
  - name: never send secrets
    dataClass: [secret]
    location: [lan, cloud]
    action: deny
`;

function errorsOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PolicyError) return e;
    throw e;
  }
  assert.fail('expected a PolicyError');
}

const compile = (text: string, file = 'policy.yaml') => compileUserPolicy(parsePolicyText(text, file));

describe('policy file', () => {
  it('compiles a valid file with the position of every rule and provider', () => {
    const p = compile(GOOD);
    assert.equal(p.providers.length, 1);
    const prov = p.providers[0]!;
    assert.equal(prov.baseUrl, 'https://api.example.com', 'a trailing /v1 is normalized away');
    assert.equal(prov.location, 'cloud', 'a public host is inferred to be cloud');
    assert.equal(prov.apiKeyEnv, 'EXAMPLE_API_KEY');
    assert.deepEqual(p.rules.map((r) => [r.origin.line, r.action]), [[11, 'allow'], [15, 'deny']]);
    assert.deepEqual(p.rules[0]!.feature, ['completion'], 'a scalar is read as a one-element list');
    assert.equal(p.defaults.cloud.action, 'ask');
    assert.equal(p.defaults.cloud.origin.line, 3);
  });

  it('names the line and column of a misspelt action', () => {
    const text = GOOD.replace('    action: allow', '    action: alow');
    const err = errorsOf(() => compile(text));
    assert.equal(err.diagnostics.length, 1);
    const d = err.diagnostics[0]!;
    assert.equal(formatDiagnostic(d), 'policy.yaml:14:13: rules[0].action must be one of allow, ask, deny (got "alow")');
  });

  it('rejects an unknown key at its line and suggests the intended one', () => {
    const text = GOOD.replace('    dataClass: [secret]', '    dataClas: [secret]');
    const err = errorsOf(() => compile(text));
    const d = err.diagnostics.find((x) => x.path === 'rules[1].dataClas');
    assert.ok(d, err.message);
    assert.equal(d.line, 16);
    assert.equal(d.col, 5);
    assert.match(d.message, /did you mean "dataClass"/);
  });

  it('reports every error in one pass, each with its own line', () => {
    const text = GOOD.replace('kind: openai', 'kind: opanai').replace('  cloud: ask', '  cloud: maybe');
    const err = errorsOf(() => compile(text));
    assert.deepEqual(err.diagnostics.map((d) => [d.line, d.path]).sort(), [[3, 'default.cloud'], [6, 'providers[0].kind']]);
  });

  it('refuses a key written into the file, without echoing it', () => {
    const text = GOOD.replace('    apiKeyEnv: EXAMPLE_API_KEY', '    apiKey: sk-live-abcdefghijklmnop');
    const err = errorsOf(() => compile(text));
    assert.match(err.message, /policy.yaml:9:5: providers\[0\]\.apiKey is not allowed.*apiKeyEnv/);
    assert.doesNotMatch(err.message, /sk-live/);
    const err2 = errorsOf(() => compile(GOOD.replace('EXAMPLE_API_KEY', 'sk-live-abc/def')));
    assert.match(err2.message, /policy.yaml:9:16: providers\[0\]\.apiKeyEnv must be the NAME of an environment variable/);
    assert.doesNotMatch(err2.message, /sk-live/);
  });

  it('reports YAML syntax errors with their line', () => {
    const err = errorsOf(() => compile('rules:\n  - action: allow\n   feature: [chat\n'));
    assert.ok(err.diagnostics.every((d) => d.line >= 2), err.message);
  });

  it('refuses a public host declared as local', () => {
    const err = errorsOf(() => compile(GOOD.replace('    apiKeyEnv: EXAMPLE_API_KEY', '    location: local')));
    assert.match(err.message, /policy.yaml:9:15: providers\[0\]\.location says local but api.example.com is not a loopback address/);
  });

  it('has a default that keeps everything on the machine', async () => {
    const p = await loadUserPolicy(join(tmpdir(), 'hearth-no-such-dir', 'policy.yaml'));
    assert.equal(p.userFile, null);
    assert.equal(p.providers.length, 0);
    assert.equal(p.defaults.local.action, 'allow');
    assert.ok(p.denyPaths.some((d) => d.match(['/home/u/proj/.env'])));
  });
});

describe('workspace policy', () => {
  const providers: ProviderDescriptor[] = [
    { id: 'ngram', kind: 'ngram', location: 'local', features: ['completion'] },
    { id: 'cloud-gpt', kind: 'openai', location: 'cloud', features: ['completion', 'chat'], host: 'api.example.com' },
  ];
  const piece = { source: { kind: 'file' as const, uri: 'file:///ws/src/a.ts' }, text: 'const a = 1;\n' };

  it('can tighten but never loosen the user policy', async () => {
    const user = compile(GOOD);
    const ws = parsePolicyText(
      `default:\n  cloud: allow\nproviders:\n  - id: evil\n    kind: openai\n    baseUrl: https://evil.example\n    model: m\nrules:\n  - feature: chat\n    action: allow\n  - feature: completion\n    paths: ["src/**"]\n    action: deny\n`,
      '/ws/.hearth/policy.yaml',
    );
    const merged = applyWorkspacePolicy(user, ws, '/ws');
    assert.equal(merged.defaults.cloud.action, 'ask', 'a looser workspace default is ignored');
    assert.equal(merged.providers.length, 1, 'a workspace cannot add providers');
    const warnings = merged.warnings.map((w) => `${w.line}:${w.path}`);
    assert.deepEqual(warnings.sort(), ['2:default.cloud', '4:providers', '9:rules[0]'].sort());
    assert.ok(merged.warnings.every((w) => w.severity === 'warning'));

    // The user allows completion to the cloud; the workspace denies it for src/**: local wins.
    const planUser = await planRoute({ feature: 'completion', pieces: [piece], provider: 'cloud-gpt' }, user, { providers });
    assert.equal(planUser.decision, 'allow');
    const planWs = await planRoute({ feature: 'completion', pieces: [piece], workspaceRoot: '/ws' }, merged, {
      providers: [providers[1]!, providers[0]!],
    });
    assert.equal(planWs.provider?.id, 'ngram');
    assert.match(planWs.considered[0]!.skipped ?? '', /denied by \/ws\/.hearth\/policy.yaml:11:5/);
    // The workspace's `allow chat` does not loosen the user's default (ask) for chat.
    const chat = await planRoute({ feature: 'chat', pieces: [piece], workspaceRoot: '/ws' }, merged, { providers });
    assert.equal(chat.decision, 'ask');
  });

  it('is read from <root>/.hearth/policy.yaml', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-ws-'));
    try {
      mkdirSync(join(root, '.hearth'));
      writeFileSync(join(root, '.hearth', 'policy.yaml'), 'rules:\n  - location: cloud\n    action: deny\n');
      const p = await loadWorkspacePolicy(compile(GOOD), root);
      assert.equal(p.workspaceFile, join(root, '.hearth', 'policy.yaml'));
      assert.equal(p.rules.at(-1)?.scope, 'workspace');
      assert.equal(p.rules.at(-1)?.origin.line, 2);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('PolicyWatcher', () => {
  let dir: string;
  let watcher: PolicyWatcher | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-policy-'));
  });
  afterEach(() => {
    watcher?.close();
    watcher = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the previous policy in force when the new file is invalid, and says where', async () => {
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, GOOD);
    watcher = new PolicyWatcher({ userFile: file, debounceMs: 30 });
    await watcher.start();
    const before = watcher.policyFor();
    assert.equal(before.rules.length, 2);

    const invalid = once(watcher, 'invalid') as Promise<[PolicyInvalidEvent]>;
    writeFileSync(file, GOOD.replace('    action: allow', '    action: alow'));
    const [ev] = await invalid;
    assert.equal(ev.kept, 'previous');
    assert.equal(ev.file, file);
    assert.equal(ev.diagnostics[0]?.line, 14);
    assert.match(ev.message, /policy.yaml:14:13: rules\[0\]\.action must be one of allow, ask, deny \(got "alow"\)/);
    assert.equal(watcher.policyFor(), before, 'the old policy object is still the one in force');

    const changed = once(watcher, 'change');
    writeFileSync(file, GOOD.replace('    action: allow', '    action: ask'));
    await changed;
    assert.equal(watcher.policyFor().rules[0]!.action, 'ask');
  });

  it('fails closed: a broken file at start gives the built-in default, a broken workspace file gives lockdown', async () => {
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'rules: [\n');
    watcher = new PolicyWatcher({ userFile: file, debounceMs: 30 });
    const invalid = once(watcher, 'invalid') as Promise<[PolicyInvalidEvent]>;
    await watcher.start();
    assert.equal((await invalid)[0].kept, 'default');
    assert.equal(watcher.policyFor().providers.length, 0);
    assert.deepEqual(watcher.policyFor(), { ...defaultPolicy(), denyPaths: watcher.policyFor().denyPaths });

    const ws = join(dir, 'ws');
    mkdirSync(join(ws, '.hearth'), { recursive: true });
    writeFileSync(join(ws, '.hearth', 'policy.yaml'), 'rules:\n  - action: deny\n    locaton: cloud\n');
    const wsInvalid = once(watcher, 'invalid') as Promise<[PolicyInvalidEvent]>;
    await watcher.addWorkspace(ws);
    const [ev] = await wsInvalid;
    assert.equal(ev.kept, 'lockdown');
    assert.equal(ev.diagnostics[0]?.line, 3);
    assert.equal(watcher.policyFor(ws).defaults.cloud.action, 'deny');
  });
});
