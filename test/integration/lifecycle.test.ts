// Daemon lifecycle as editors see it (issue 13, must show 3, the raw-LSP half; the Neovim half is
// in test/e2e/neovim-lifecycle.test.ts). Real `bin/hearth lsp --stdio` bridges driven as an editor
// would drive them:
//   - `hearth stop` with an editor attached: the bridge tells the editor why, starts no daemon
//     (none 10 s later; it used to start one within ~4 s), `hearth import` then works, requests
//     are answered with the reason, and after `hearth start` the bridge reconnects and replays;
//   - a daemon killed by SIGKILL is still restarted by the bridge;
//   - a lasting start failure (0755 home, 0644 token) reaches the editor within 2 s as the error of
//     its initialize, naming the cause and the fix, and as window/showMessage;
//   - after the editor's `exit`, the bridge never reconnects.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectSocket } from '../../server/client.js';
import { isAlive, makeHome, sleep, waitFor, type HearthHome, type LspClient } from '../helpers/daemon.js';

async function daemonAnswers(h: HearthHome): Promise<boolean> {
  try {
    (await connectSocket(h.paths.socket, 500)).destroy();
    return true;
  } catch {
    return false;
  }
}

function messages(lsp: LspClient): Array<{ type: number; message: string }> {
  return lsp.notifications.filter((n) => n.method === 'window/showMessage').map((n) => n.params as { type: number; message: string });
}

describe('daemon lifecycle through the bridge (real bridges, real daemons)', function () {
  this.timeout(120_000);
  const homes: HearthHome[] = [];
  const home = (label: string): HearthHome => {
    const h = makeHome(label);
    homes.push(h);
    return h;
  };
  after(async () => {
    for (const h of homes) await h.dispose();
  });

  it('`hearth stop` with an editor attached: the editor is told why, no daemon 10 s later, import works, `hearth start` brings the editor back', async () => {
    const h = home('stop');
    const lsp = h.lsp();
    await lsp.initialize('editor-a');
    const uri = pathToFileURL(path.join(h.dir, 'a.ts')).href;
    await lsp.open(uri, 'export const answer = 42;\n');
    await waitFor('the editor to be attached', async () => (await h.status()).clients.some((c) => c.name === 'editor-a'));
    const exported = path.join(h.dir, 'state.json');
    assert.equal((await h.cli(['export', exported])).code, 0);

    const stop = await h.cli(['stop']);
    assert.equal(stop.code, 0, stop.stderr);
    const told = await waitFor('window/showMessage from the bridge', () => messages(lsp).find((m) => /Hearth was stopped/.test(m.message)), 10_000);
    assert.match(told.message, /run `hearth start` or reopen the editor/);

    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      assert.equal(await daemonAnswers(h), false, `a daemon answers ${Date.now() - t0} ms after hearth stop`);
      assert.deepEqual(h.daemonPids(), [], `a daemon process runs ${Date.now() - t0} ms after hearth stop`);
      await sleep(500);
    }
    const imp = await h.cli(['import', '--force', exported]);
    assert.equal(imp.code, 0, `hearth import after hearth stop failed:\n${imp.stdout}\n${imp.stderr}`);

    // The editor keeps working as a client: a request is answered (with the reason), not left hanging.
    await assert.rejects(lsp.inlineCompletion(uri, 0, 5), /Hearth was stopped[^]*hearth start/);
    await lsp.change(uri, 2, [{ text: 'export const answer = 43;\n' }]);

    const start = await h.cli(['start']);
    assert.equal(start.code, 0, start.stderr);
    await waitFor('the bridge to reconnect and replay the document', async () =>
      (await h.status()).clients.some((c) => c.name === 'editor-a' && c.documents.some((d) => d.uri === uri && d.version === 2)), 20_000);
    await waitFor('"running again"', () => messages(lsp).find((m) => /running again/.test(m.message)));
    assert.ok(!/lost the daemon; reconnecting/.test(lsp.stderr), `the bridge tried to restart the daemon itself:\n${lsp.stderr}`);
  });

  it('a daemon that appears and goes again while the editor waits after `hearth stop`: the bridge still starts none', async () => {
    // The race CI hit: the bridge's probe saw a daemon that a script then stopped; its connection
    // failed and it fell through to the crash path, starting a daemon of its own. Held open here
    // deterministically: a socket that answers the probe, then vanishes when the bridge connects.
    const h = home('flicker');
    const lsp = h.lsp();
    await lsp.initialize('editor-f');
    await waitFor('the editor to be attached', async () => (await h.status()).clients.some((c) => c.name === 'editor-f'));
    assert.equal((await h.cli(['stop'])).code, 0);
    await waitFor('window/showMessage from the bridge', () => messages(lsp).find((m) => /Hearth was stopped/.test(m.message)), 10_000);
    await waitFor('the daemon to exit', () => h.daemonPids().length === 0);
    let accepted = 0;
    const flicker = net.createServer((c) => {
      accepted++;
      if (accepted >= 2) flicker.close(); // the bridge's own connection: the "daemon" is gone again
      c.destroy();
    });
    await new Promise<void>((resolve) => flicker.listen(h.paths.socket, resolve));
    await waitFor('the bridge to probe and connect', () => accepted >= 2, 10_000);
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      assert.deepEqual(h.daemonPids(), [], `the bridge started a daemon ${Date.now() - t0} ms after the flicker:\n${lsp.stderr}`);
      await sleep(250);
    }
    // A real start still brings the editor back.
    assert.equal((await h.cli(['start'])).code, 0);
    await waitFor('the bridge to reconnect', async () => (await h.status()).clients.some((c) => c.name === 'editor-f'), 20_000);
  });

  it('a daemon killed by SIGKILL is still restarted by the bridge', async () => {
    const h = home('crash');
    const lsp = h.lsp();
    await lsp.initialize('editor-b');
    const s1 = await waitFor('the bridge-started daemon', async () => (await h.status()).clients.some((c) => c.name === 'editor-b') && h.status());
    process.kill(s1.pid, 'SIGKILL');
    await waitFor('the daemon to die', () => !isAlive(s1.pid));
    const s2 = await waitFor('a new daemon with the editor attached', async () => {
      const s = await h.status();
      return s.pid !== s1.pid && s.clients.some((c) => c.name === 'editor-b') ? s : undefined;
    }, 30_000);
    assert.notEqual(s2.pid, s1.pid);
    assert.equal(messages(lsp).filter((m) => /stopped/.test(m.message)).length, 0, 'a crash was reported as a deliberate stop');
  });

  for (const c of [
    { what: 'a 0755 home', make: (h: HearthHome) => fs.chmodSync(h.home, 0o755), cause: /has mode 0755; group or others can reach it/, fix: /chmod 700 \S+home/ },
    { what: 'a 0644 token', make: (h: HearthHome) => fs.writeFileSync(h.paths.token, `${'ab'.repeat(32)}\n`, { mode: 0o644 }), cause: /token[^]*has mode 0644/, fix: /chmod 600 \S+token/ },
  ]) {
    it(`a lasting start failure (${c.what}) answers the editor's initialize within 2 s with the cause and the fix`, async () => {
      const h = home('startfail');
      c.make(h);
      const lsp = h.lsp();
      const t0 = Date.now();
      const err = await Promise.race([
        lsp.initialize('editor-c').then(() => new Error('initialize succeeded although the daemon cannot start'), (e: Error) => e),
        sleep(10_000).then(() => new Error('no answer to initialize within 10 s')),
      ]);
      const ms = Date.now() - t0;
      assert.ok(ms < 2000, `the failure took ${ms} ms to reach the editor`);
      assert.match(err.message, /Hearth could not start/);
      assert.match(err.message, c.cause);
      assert.match(err.message, c.fix);
      const shown = await waitFor('window/showMessage with the cause', () => messages(lsp).find((m) => c.cause.test(m.message)), 2000);
      assert.equal(shown.type, 1);
      // The editor gives up: shutdown is answered at once and exit ends the bridge.
      await lsp.connection.sendRequest('shutdown');
      await lsp.connection.sendNotification('exit');
      const exited = await Promise.race([lsp.exited, sleep(5000).then(() => 'still running' as const)]);
      assert.notEqual(exited, 'still running');
    });
  }

  it('after the editor sends exit, the bridge does not reconnect or replay', async () => {
    const h = home('exit');
    const daemon = await h.spawnDaemon();
    const lsp = h.lsp();
    await lsp.initialize('editor-d');
    await lsp.open(pathToFileURL(path.join(h.dir, 'd.ts')).href, 'let d = 1;\n');
    await waitFor('the editor to be attached', async () => (await h.status()).clients.some((c) => c.name === 'editor-d'));
    await lsp.connection.sendRequest('shutdown');
    await lsp.connection.sendNotification('exit');
    await Promise.race([lsp.exited, sleep(5000)]);
    await sleep(500);
    const attached = daemon.output().split('\n').filter((l) => /\[editor-d#\w+\] attached/.test(l));
    assert.equal(attached.length, 1, `the bridge attached ${attached.length} times:\n${daemon.output()}`);
    assert.ok(!/reconnect/.test(lsp.stderr), `the bridge reconnected after exit:\n${lsp.stderr}`);
    assert.equal((await h.status()).clients.filter((c) => c.name === 'editor-d').length, 0);
  });
});
