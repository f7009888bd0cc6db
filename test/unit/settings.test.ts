// Settings are declared once in server/settings.ts; the VS Code manifest is generated from them.
// This test fails when someone edits either side without regenerating.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SETTINGS, vscodeConfiguration, settingDefaults, findSetting } from '../../server/settings.js';
import { MANIFEST_PATH, manifestIsCurrent, regenerate } from '../../extensions/vscode/scripts/generate-settings.mjs';

function manifest(): Record<string, unknown> {
  return JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, unknown>;
}

describe('settings declared once (server/settings.ts → extensions/vscode/package.json)', () => {
  it('the VS Code manifest carries exactly the declared settings', () => {
    const m = manifest();
    const actual = (m['contributes'] as Record<string, unknown>)['configuration'];
    assert.deepEqual(actual, vscodeConfiguration(),
      'extensions/vscode/package.json drifted from server/settings.ts; run `node --import tsx extensions/vscode/scripts/generate-settings.mts`');
    assert.equal(manifestIsCurrent(m), true);
  });

  it('detects drift: a changed default, a removed key and an extra key are all caught', () => {
    const m = manifest();
    const conf = vscodeConfiguration();
    const changed = structuredClone(m) as { contributes: { configuration: typeof conf } };
    changed.contributes.configuration.properties['hearth.path']!['default'] = '/usr/bin/hearth';
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

  it('every declaration is well formed: unique hearth.* keys, defaults of the declared type', () => {
    const keys = SETTINGS.map((s) => s.key);
    assert.equal(new Set(keys).size, keys.length, 'duplicate setting key');
    for (const s of SETTINGS) {
      assert.match(s.key, /^hearth\.[a-zA-Z.]+$/);
      assert.ok(s.description.length > 10, `${s.key} needs a description`);
      const t = s.type === 'integer' ? 'number' : s.type;
      assert.equal(typeof s.default, t, `${s.key}: default is not a ${s.type}`);
      if (s.type === 'string' && s.enum) assert.ok(s.enum.includes(s.default), `${s.key}: default not in enum`);
      if (s.type === 'integer') assert.ok(s.default >= s.minimum && s.default <= s.maximum);
    }
    assert.equal(settingDefaults()['hearth.inlineCompletion.enabled'], true);
    assert.throws(() => findSetting('hearth.nope'), /unknown Hearth setting "hearth.nope"/);
  });
});
