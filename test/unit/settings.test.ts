// Settings are declared once in server/settings.ts; the VS Code manifest, the Neovim plugin's
// option table, its :help file and tags, and docs/configuration.md are generated from them. These
// tests fail when someone edits either side without regenerating, and check the validation the
// daemon applies to what editors send.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DAEMON_DEFAULTS, DAEMON_SETTING_LIST, SETTINGS, checkValue, findSetting, readDaemonSettings, sectionOf, settingDefaults, vscodeConfiguration,
} from '../../server/settings.js';
import { renderHelp, renderHelpTags, renderLua } from '../../server/settings-render.js';
import { MANIFEST_PATH, ROOT, drifted, manifestIsCurrent, regenerate, textArtefacts } from '../../extensions/vscode/scripts/generate-settings.mjs';

function manifest(): Record<string, unknown> {
  return JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, unknown>;
}

const REGENERATE = 'run `node --import tsx extensions/vscode/scripts/generate-settings.mts`';

describe('settings declared once (server/settings.ts → VS Code manifest, Neovim options and :help, docs)', () => {
  it('the VS Code manifest carries exactly the declared VS Code settings', () => {
    const m = manifest();
    const actual = (m['contributes'] as Record<string, unknown>)['configuration'];
    assert.deepEqual(actual, vscodeConfiguration(), `extensions/vscode/package.json drifted from server/settings.ts; ${REGENERATE}`);
    assert.equal(manifestIsCurrent(m), true);
    const keys = Object.keys((actual as { properties: object }).properties);
    assert.deepEqual(keys, SETTINGS.filter((s) => s.clients.vscode).map((s) => s.key));
    assert.ok(keys.includes('hearth.completion.maxTokens') && !keys.includes('hearth.acceptKey'), 'daemon settings are in the manifest, Neovim-only ones are not');
  });

  it('detects manifest drift: a changed default, a removed key and an extra key are all caught', () => {
    const m = manifest();
    const conf = vscodeConfiguration();
    const changed = structuredClone(m) as { contributes: { configuration: typeof conf } };
    changed.contributes.configuration.properties['hearth.completion.maxTokens']!['default'] = 64;
    assert.equal(manifestIsCurrent(changed as unknown as Record<string, unknown>), false);

    const removed = structuredClone(m) as { contributes: { configuration: typeof conf } };
    delete removed.contributes.configuration.properties['hearth.home'];
    assert.equal(manifestIsCurrent(removed as unknown as Record<string, unknown>), false);

    const extra = structuredClone(m) as { contributes: { configuration: typeof conf } };
    extra.contributes.configuration.properties['hearth.undeclared'] = { type: 'string', default: '' };
    assert.equal(manifestIsCurrent(extra as unknown as Record<string, unknown>), false);
    // Regenerating repairs it and keeps the rest of the manifest untouched.
    const repaired = regenerate(extra as unknown as Record<string, unknown>);
    assert.equal(manifestIsCurrent(repaired), true);
    assert.deepEqual((repaired['contributes'] as Record<string, unknown>)['commands'], (m['contributes'] as Record<string, unknown>)['commands']);
  });

  for (const a of textArtefacts()) {
    it(`${a.file} is what the declaration generates`, () => {
      const onDisk = readFileSync(path.join(ROOT, a.file), 'utf8');
      assert.equal(onDisk, a.text, `${a.file} drifted from server/settings.ts; ${REGENERATE}`);
    });
  }

  it('drifted() names every stale artefact, and none now', () => {
    assert.deepEqual(drifted(), []);
  });

  it('the Neovim option table and :help follow the declaration (every option, its default, its tag)', () => {
    const lua = renderLua();
    const help = renderHelp();
    for (const s of SETTINGS.filter((x) => x.clients.neovim)) {
      const name = s.clients.neovim!;
      assert.match(lua, new RegExp(`^  ${name} +=`, 'm'), `${name} missing from settings.lua`);
      assert.ok(help.includes(`*hearth-option-${name}*`), `${name} has no :help tag`);
    }
    assert.match(lua, /^ {2}debounce_ms += 75,$/m);
    assert.match(lua, /^ {2}completion_max_tokens += \{ 'completion', 'maxTokens' \},$/m);
    // Every tag the help defines is in doc/tags, sorted as :helptags sorts them.
    const tags = renderHelpTags(help).trim().split('\n').map((l) => l.split('\t')[0]!);
    assert.deepEqual(tags, [...tags].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.ok(tags.includes('hearth-options') && tags.includes('hearth-daemon-settings') && tags.includes('hearth.txt'));
    for (const line of help.split('\n')) assert.ok(line.length <= 78 || /^\s*\S+$/.test(line), `help line over 78 columns: ${line}`);
  });

  it('real Neovim loads the generated settings.lua: its defaults and types equal the declaration', function () {
    const probe = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) return this.skip();
    const file = path.join(ROOT, 'extensions/neovim/lua/hearth/settings.lua');
    const lua = `local m = dofile(${JSON.stringify(file)}); io.stdout:write(vim.fn.json_encode({ d = m.defaults, t = m.types, x = m.daemon, n = vim.tbl_keys(m.defaults) }))`;
    const r = spawnSync('nvim', ['--headless', '-u', 'NONE', '-i', 'NONE', '-c', `lua ${lua}`, '-c', 'qa!'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { d: Record<string, unknown>; t: Record<string, { type: string; enum?: string[] }>; x: Record<string, string[]> };
    for (const s of SETTINGS.filter((x) => x.clients.neovim)) {
      const name = s.clients.neovim!;
      if (s.owner === 'daemon') {
        assert.deepEqual(got.x[name], s.key.replace(/^hearth\./, '').split('.'), name);
        assert.equal(name in got.d, false, `${name}: daemon settings have no plugin default (unset: the daemon's)`);
        continue;
      }
      if (s.default === null) assert.equal(name in got.d, false, `${name} should be nil`);
      else assert.deepEqual(got.d[name], s.default, name);
      assert.equal(got.t[name]?.type, { string: 'string', boolean: 'boolean', integer: 'integer', stringList: 'list', stringMap: 'map' }[s.type]);
      if (s.type === 'string' && s.enum) assert.deepEqual(got.t[name]?.enum, [...s.enum]);
    }
  });

  it('every declaration is well formed: unique keys and Neovim names, offered somewhere, defaults that pass their own check', () => {
    const keys = SETTINGS.map((s) => s.key);
    assert.equal(new Set(keys).size, keys.length, 'duplicate setting key');
    const nv = SETTINGS.flatMap((s) => (s.clients.neovim ? [s.clients.neovim] : []));
    assert.equal(new Set(nv).size, nv.length, 'duplicate Neovim option name');
    for (const s of SETTINGS) {
      assert.match(s.key, /^hearth\.[a-zA-Z.]+$/);
      assert.ok(s.description.length > 10, `${s.key} needs a description`);
      assert.ok(s.clients.vscode || s.clients.neovim, `${s.key} is offered by no client`);
      if (s.clients.neovim) assert.match(s.clients.neovim, /^[a-z][a-z_]*$/);
      if (s.owner === 'daemon') assert.ok(s.clients.vscode && s.clients.neovim, `${s.key}: a daemon setting should be settable from both editors`);
      if (s.default !== null) assert.deepEqual(checkValue(s, s.default), s.default, `${s.key}: its default fails its own check`);
    }
    assert.equal(settingDefaults()['hearth.inlineCompletion.enabled'], true);
    assert.equal(DAEMON_DEFAULTS['hearth.completion.maxTokens'], 48);
    assert.deepEqual(Object.keys(DAEMON_DEFAULTS), DAEMON_SETTING_LIST.map((s) => s.key));
    assert.throws(() => findSetting('hearth.nope'), /unknown Hearth setting "hearth.nope"/);
  });
});

describe('settings: validation of what an editor sends for the daemon', () => {
  it('reads nested and dotted keys; null means unset; client-side keys are ignored silently', () => {
    const r = readDaemonSettings({
      completion: { maxTokens: 16, 'memory.items': 0, memory: { kinds: ['note', 'note', 'decision'] } },
      'completion.prefixChars': 100,
      'completion.suffixChars': null,
      path: '/usr/bin/hearth', inlineCompletion: { enabled: false }, trace: { server: 'off' },
      completion2: undefined,
    }, 'initializationOptions');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.values, {
      'hearth.completion.maxTokens': 16, 'hearth.completion.memory.items': 0, 'hearth.completion.memory.kinds': ['note', 'decision'],
      'hearth.completion.prefixChars': 100,
    });
  });

  it('a value that does not fit is reported with the key, the value, what it must be, the default and where to fix it', () => {
    const r = readDaemonSettings({ completion: { maxTokens: 'lots', otherBuffers: 2 } }, 'initializationOptions');
    assert.deepEqual(r.values, { 'hearth.completion.otherBuffers': 2 });
    assert.equal(r.problems.length, 1);
    const m = r.problems[0]!.message;
    assert.equal(r.problems[0]!.key, 'hearth.completion.maxTokens');
    for (const part of ['hearth.completion.maxTokens = "lots"', 'from initializationOptions', 'an integer from 1 to 512', 'uses 48, the default,', 'VS Code: the setting hearth.completion.maxTokens', "setup{ completion_max_tokens = ... }", 'initializationOptions.hearth.completion.maxTokens']) {
      assert.ok(m.includes(part), `"${part}" missing from: ${m}`);
    }
  });

  it('each kind of bad value is refused: out of range, fraction, wrong type, unknown list item, too long a list', () => {
    const cases: Array<[string, unknown]> = [
      ['completion.maxTokens', 0], ['completion.maxTokens', 513], ['completion.maxTokens', 4.5], ['completion.maxTokens', '48'],
      ['completion.prefixChars', -1], ['completion.otherBuffers', true], ['completion.memory.kinds', ['note', 'secret']],
      ['completion.memory.kinds', 'note'], ['completion.memory.kinds', ['note', 'decision', 'snippet', 'preference', 'note']],
    ];
    for (const [key, value] of cases) {
      const r = readDaemonSettings({ [key]: value }, 'workspace/configuration');
      assert.deepEqual(r.values, {}, `${key} = ${JSON.stringify(value)} was accepted`);
      assert.equal(r.problems.length, 1, `${key} = ${JSON.stringify(value)}: ${JSON.stringify(r.problems)}`);
      assert.equal(r.problems[0]!.key, `hearth.${key}`);
    }
  });

  it('an unknown key is reported and ignored; the daemon\'s keys are listed', () => {
    const r = readDaemonSettings({ completion: { maxToken: 5, maxTokens: 5 } }, 'workspace/didChangeConfiguration');
    assert.deepEqual(r.values, { 'hearth.completion.maxTokens': 5 });
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!.message, /^hearth\.completion\.maxToken \(from workspace\/didChangeConfiguration\) is not a Hearth setting; ignored\. The daemon's settings: hearth\.completion\.maxTokens, /);
  });

  it('a section that is not an object is one problem; nothing or null is no problem', () => {
    assert.deepEqual(readDaemonSettings(undefined, 'x'), { values: {}, problems: [] });
    assert.deepEqual(readDaemonSettings(null, 'x'), { values: {}, problems: [] });
    const r = readDaemonSettings('maxTokens=5', 'initializationOptions');
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!.message, /must be an object \(the "hearth" section\), got "maxTokens=5"; the daemon ignores them/);
  });

  it('a bad value after a good one says which value stays', () => {
    const r = readDaemonSettings({ completion: { maxTokens: -3 } }, 'workspace/configuration', { 'hearth.completion.maxTokens': 16 });
    assert.match(r.problems[0]!.message, /uses 16 \(set earlier; the default is 48\) for this editor/);
  });

  it('sectionOf nests full keys into the section editors send', () => {
    assert.deepEqual(sectionOf({ 'hearth.completion.maxTokens': 8, 'hearth.completion.memory.items': 1 }), { completion: { maxTokens: 8, memory: { items: 1 } } });
    const back = readDaemonSettings(sectionOf({ 'hearth.completion.maxTokens': 8, 'hearth.completion.memory.items': 1 }), 'x');
    assert.deepEqual(back.values, { 'hearth.completion.maxTokens': 8, 'hearth.completion.memory.items': 1 });
  });
});
