// Tool capabilities are scoped to the workspace; a workspace that is the whole system or the home
// directory would scope nothing, so the daemon refuses it before any policy, prompt or sandbox.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeHome, type HearthHome } from '../helpers/daemon.js';

describe('tool workspace scope (real daemon)', function () {
  this.timeout(60_000);
  let h: HearthHome;
  before(async () => {
    h = makeHome('scope');
    const r = await h.cli(['start']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await h.cli(['stop']);
    await h.dispose();
  });

  for (const root of ['/', os.homedir(), '/tmp']) {
    it(`refuses ${root} as a workspace root, naming it, and audits nothing`, async () => {
      const r = await h.cli(['tool', 'run', 'fs.read', '{"path":"etc/hostname"}', '--workspace', root]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`refusing to run tools with ${root.replace(/\//g, '\\/')} as the workspace`));
      const audit = await h.cli(['audit', 'show', '--json']);
      assert.deepEqual(JSON.parse(audit.stdout), []);
    });
  }

  it('a project folder is in scope: fs.read inside it runs', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-scope-ws-'));
    fs.writeFileSync(path.join(ws, 'a.txt'), 'hello scope\n');
    const r = await h.cli(['tool', 'run', 'fs.read', '{"path":"a.txt"}', '--workspace', ws]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /hello scope/);
  });
});
