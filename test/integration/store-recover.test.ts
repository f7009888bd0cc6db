// Recovery from a corrupt snapshot (issue 13, must show 4): the daemon refuses to start and names
// a command; the test runs exactly the commands the messages advise (taken from the messages):
// `hearth store recover`, then the import it advises, which succeeds; the daemon then serves the
// imported state. Before, the advice was `hearth import FILE`, which refused because a damaged
// snapshot was kept aside, and an API (recoverFromCorruptSnapshot) no command exposed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeHome, type HearthHome } from '../helpers/daemon.js';

/** The backticked `hearth …` commands in a message, in order. */
const advised = (text: string): string[] => [...text.matchAll(/`(hearth [^`]+)`/g)].map((m) => m[1]!);

describe('hearth store recover: corrupt snapshot -> the advised command -> import works', function () {
  this.timeout(180_000);
  const homes: HearthHome[] = [];
  after(async () => {
    for (const h of homes) await h.dispose();
  });

  /** A home with two memory items and an export of them; the daemon is stopped afterwards. */
  async function populated(label: string): Promise<{ h: HearthHome; exported: string }> {
    const h = makeHome(label);
    homes.push(h);
    for (const text of ['the build uses tabs', 'deploys go through staging']) {
      const r = await h.cli(['memory', 'add', text]);
      assert.equal(r.code, 0, r.stderr);
    }
    const exported = path.join(h.dir, 'state.json');
    assert.equal((await h.cli(['export', exported])).code, 0);
    assert.equal((await h.cli(['stop'])).code, 0);
    return { h, exported };
  }

  async function run(h: HearthHome, command: string, file: string) {
    const argv = command.split(/\s+/).slice(1).map((w) => (w === 'FILE' ? file : w));
    return h.cli(argv);
  }

  for (const damage of [
    { what: 'one flipped byte in the database image (the rest is salvaged)', salvage: true, apply: (b: Buffer) => { b[Math.floor(b.length * 0.6)]! ^= 0xff; return b; } },
    { what: 'a snapshot overwritten with garbage (nothing salvageable)', salvage: false, apply: (b: Buffer) => Buffer.alloc(b.length, 0x5a) },
  ]) {
    it(damage.what, async () => {
      const { h, exported } = await populated('recover');
      const snap = path.join(h.paths.store, 'snapshot');
      fs.writeFileSync(snap, damage.apply(fs.readFileSync(snap)));

      const start = await h.cli(['start']);
      assert.notEqual(start.code, 0, 'the daemon started on a corrupt snapshot');
      assert.match(start.stderr, /corrupt/);
      const first = advised(start.stderr);
      assert.equal(first[0], 'hearth store recover', `the start failure advises: ${first.join(', ')}\n${start.stderr}`);
      assert.ok(!/recoverFromCorruptSnapshot/.test(start.stderr), 'the advice names an internal API');

      // A second start (the corrupt snapshot is now aside) gives the same advice.
      const again = await h.cli(['start']);
      assert.notEqual(again.code, 0);
      assert.equal(advised(again.stderr)[0], 'hearth store recover', again.stderr);

      const rec = await run(h, first[0]!, exported);
      assert.equal(rec.code, 0, `${rec.stdout}\n${rec.stderr}`);
      if (damage.salvage) assert.match(rec.stdout, /salvaged [1-9]\d* row\(s\)/, rec.stdout);
      else assert.match(rec.stdout, /started from an empty store/, rec.stdout);
      const aside = fs.readdirSync(h.paths.store).filter((n) => /^snapshot\.corrupt-\d{4}-\d\d-\d\dT/.test(n));
      assert.equal(aside.length, 1, `the damaged snapshot was not kept aside with a timestamp: ${fs.readdirSync(h.paths.store).join(', ')}`);

      const importAdvice = advised(rec.stdout).find((c) => c.startsWith('hearth import'));
      assert.ok(importAdvice, `recover advises no import:\n${rec.stdout}`);
      const imp = await run(h, importAdvice, exported);
      assert.equal(imp.code, 0, `the advised \`${importAdvice}\` failed:\n${imp.stdout}\n${imp.stderr}`);

      const list = await h.cli(['memory', 'list', '--all']);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /the build uses tabs/);
      assert.match(list.stdout, /deploys go through staging/);
      const doctor = await h.cli(['doctor']);
      assert.doesNotMatch(doctor.stdout, /ERROR.*store/, doctor.stdout);
    });
  }

  it('an empty recovered store takes a plain `hearth import FILE`; a healthy store is left alone', async () => {
    const { h, exported } = await populated('recover-plain');
    const healthy = await h.cli(['store', 'recover']);
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.match(healthy.stdout, /the store is healthy/);
    assert.deepEqual(fs.readdirSync(h.paths.store).filter((n) => n.includes('corrupt') || n.includes('recovered')), []);

    fs.writeFileSync(path.join(h.paths.store, 'snapshot'), 'not a snapshot at all');
    assert.equal((await h.cli(['store', 'recover'])).code, 0);
    const imp = await h.cli(['import', exported]);
    assert.equal(imp.code, 0, `${imp.stdout}\n${imp.stderr}`);
  });

  it('refuses while the daemon runs, naming `hearth stop`', async () => {
    const h = makeHome('recover-running');
    homes.push(h);
    await h.spawnDaemon();
    const r = await h.cli(['store', 'recover']);
    assert.notEqual(r.code, 0);
    assert.ok(advised(r.stderr).includes('hearth stop'), r.stderr);
  });
});
