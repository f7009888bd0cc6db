// The redaction corpus through the real daemon (issue 11, "Must show" 1). Secrets of every kind
// docs/redaction.md lists are generated at run time (seeded RNG; the seed is printed and
// HEARTH_CORPUS_SEED=N replays it), planted where an editor's context comes from — the buffer being
// completed, other editors' buffers, memory items, deny-listed files under file: and other URI
// schemes — and sent through textDocument/inlineCompletion and hearth/task to a recording
// OpenAI-compatible server on 127.0.0.1 that the user policy declares a cloud provider. Every route
// plan is checked to really carry the piece that holds each secret, so a zero can fail.
// Then: no secret and no 8-character fragment of one arrives (request lines, headers, raw bodies
// and their JSON-decoded strings), and at least 98% of a benign corpus (hashes, git SHAs, lockfile
// integrity strings, UUIDs, base64 images, minified JS, long identifiers, certificates) arrives
// byte for byte.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MemoryAdd, RouteExplain, Task } from '../../server/protocol.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { attachEditor, makeHome, makeWorkspace, userPolicyFile, waitFor, waitOpenIn, writeFileAtomic, type Editor, type HearthHome } from '../helpers/routing-harness.js';
import { Gen, KINDS, leakedFragment, makeBenign, makeSecrets, seededRng, type Secret } from '../helpers/secret-corpus.js';

interface Planted {
  where: string;
  secret: Secret;
}
interface PlanPiece {
  source: { kind: string; uri: string; client?: string; role?: string };
  dataClass: string;
  redactions: Array<{ rule: string; count: number }>;
}

const SEED = Number(process.env.HEARTH_CORPUS_SEED) || crypto.randomInt(1, 2 ** 31 - 1);
const isMultiLine = (s: Secret): boolean => s.text.includes('\n');

describe('redaction corpus through the daemon: generated secrets in buffers, memory and deny-listed files vs a recording cloud server', function () {
  this.timeout(600_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let root: string;
  let vscode: Editor;
  let nvim: Editor;
  const g = new Gen(seededRng(SEED));
  const planted: Planted[] = [];
  const canaries: Planted[] = [];
  const benign: Array<{ where: string; text: string }> = [];
  let pool: Secret[] = [];

  before(async () => {
    console.log(`      redaction corpus seed ${SEED} (HEARTH_CORPUS_SEED=${SEED} replays it)`);
    server = await startScriptedServer();
    h = makeHome('redaction-corpus');
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
      '    features: [completion, task]',
      'routes:',
      '  completion: [scripted, ngram]',
      '  task: [scripted]',
      '',
    ].join('\n'));
    const check = await h.cli(['policy', 'check']);
    assert.equal(check.code, 0, `the test's user policy is invalid:\n${check.stdout}\n${check.stderr}`);
    await h.spawnDaemon();
    root = makeWorkspace(h, 'ws');
    vscode = await attachEditor(h, 'vscode', root);
    nvim = await attachEditor(h, 'neovim', root);
    // Enough of every kind for all placements; single-line ones also go where only short text fits.
    pool = makeSecrets(g, 260);
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  const take = (pred: (s: Secret) => boolean = () => true): Secret => {
    let i = pool.findIndex(pred);
    for (let tries = 0; i < 0 && tries < 4; tries++) {
      pool.push(...makeSecrets(g, KINDS.length));
      i = pool.findIndex(pred);
    }
    assert.ok(i >= 0, 'no secret of the wanted shape could be made');
    return pool.splice(i, 1)[0]!;
  };
  /** Waits until the daemon has `uri` open for the editor named `client` (any URI scheme). */
  const waitUri = (client: string, uri: string): Promise<boolean> => waitFor(`${client} to have ${uri} open in the daemon`, async () =>
    (await h.status()).clients.some((c) => c.name === client && c.documents.some((d) => d.uri === uri)));
  const uriOf = (file: string): string => pathToFileURL(file).href;

  async function explain(ed: Editor, uri: string, line: number, character: number): Promise<PlanPiece[]> {
    const plan = await ed.lsp.connection.sendRequest(RouteExplain.method, { textDocument: { uri }, position: { line, character } }) as { pieces: PlanPiece[]; route: { provider: string; location: string } };
    assert.equal(plan.route.provider, 'scripted', `the completion would not go to the recording server: ${JSON.stringify(plan.route)}`);
    return plan.pieces;
  }

  const close = (ed: Editor, uri: string): Promise<void> => ed.lsp.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });

  /** A completion at (line, character) of uri: it reaches the server, with the pieces named in `expect` in its plan. */
  async function completeWith(ed: Editor, uri: string, line: number, character: number, expect: (pieces: PlanPiece[]) => void): Promise<void> {
    expect(await explain(ed, uri, line, character));
    const before = server.requests.length;
    await ed.lsp.inlineCompletion(uri, line, character);
    assert.equal(server.requests.length, before + 1, `the completion in ${uri} did not reach the server`);
  }

  it('the buffer being completed: secrets before and after the cursor, in code, config and env syntaxes', async () => {
    const exts = ['ts', 'py', 'yaml', 'toml', 'ini', 'json', 'sh', 'properties', 'go', 'rb', 'tf', 'xml'];
    for (let i = 0; planted.filter((p) => p.where.startsWith('current buffer')).length < 60; i++) {
      const file = path.join(root, 'src', `current-${i}.${exts[i % exts.length]}`);
      const uri = uriOf(file);
      const where = `current buffer ${path.basename(file)}`;
      const before: string[] = [`# ${path.basename(file)}: settings for ${g.word()}`];
      const after: string[] = [];
      const b1 = makeBenign(g, 2);
      before.push(b1[0]!);
      benign.push({ where, text: b1[0]! });
      let bytes = before.join('\n').length;
      while (bytes < 3000) {
        const s = take((x) => x.text.length < 3400 - bytes);
        before.push(s.text);
        planted.push({ where, secret: s });
        bytes += s.text.length + 1;
      }
      after.push(b1[1]!);
      benign.push({ where, text: b1[1]! });
      for (let n = 0; n < 2; n++) {
        const s = take((x) => x.text.length < 350);
        after.push(s.text);
        planted.push({ where, secret: s });
      }
      const text = `${before.join('\n')}\n\n${after.join('\n')}\n`;
      const line = before.join('\n').split('\n').length;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await vscode.lsp.open(uri, text);
      await completeWith(vscode, uri, line, 0, (pieces) => {
        assert.ok(pieces.some((p) => p.source.uri === uri && p.source.role === 'prefix'), `no prefix piece of ${uri}`);
        assert.ok(pieces.some((p) => p.source.uri === uri && p.source.role === 'suffix'), `no suffix piece of ${uri}`);
      });
      await close(vscode, uri);
    }
  });

  it("other editors' buffers: snippets from Neovim's open files, including a window cut below a key's BEGIN line", async () => {
    for (let k = 0; k < 10; k++) {
      const ids = ['Alpha', 'Beta', 'Gamma', 'Delta', 'Omega'].map((x) => `orbit${k}${x}`);
      const docs: string[] = [];
      for (let j = 0; j < 3; j++) {
        const file = path.join(root, 'lib', `orbit-${k}-${j}.ts`);
        const s1 = take((x) => !isMultiLine(x));
        const s2 = take((x) => !isMultiLine(x));
        const text = [`export const ${ids[0]} = ${ids[1]} + ${ids[2]}; // part ${j}`, s1.text, `export const ${ids[3]} = ${ids[4]};`, s2.text, ''].join('\n');
        planted.push({ where: `neovim buffer ${path.basename(file)}`, secret: s1 }, { where: `neovim buffer ${path.basename(file)}`, secret: s2 });
        await nvim.lsp.open(uriOf(file), text);
        docs.push(uriOf(file));
      }
      await waitOpenIn(h, 'neovim', path.join(root, 'lib', `orbit-${k}-2.ts`));
      const file = path.join(root, 'src', `use-orbit-${k}.ts`);
      const text = `import { ${ids.join(', ')} } from '../lib';\nexport function useOrbit${k}() {\n  return ${ids.join(' + ')};\n}\n`;
      await vscode.lsp.open(uriOf(file), text);
      await completeWith(vscode, uriOf(file), 3, 1, (pieces) => {
        for (const d of docs) assert.ok(pieces.some((p) => p.source.uri === d && p.source.role === 'snippet' && p.source.client === 'neovim'), `the plan has no snippet of ${d}: ${JSON.stringify(pieces.map((p) => p.source))}`);
      });
      // Closed, so that the next group's snippets are chosen among its own files.
      await close(vscode, uriOf(file));
      for (const d of docs) await close(nvim, d);
    }

    // A long file with a key in the middle and the identifiers right after its END line: the
    // 12-line window that scores best would start inside the key body, below BEGIN.
    for (const kind of ['private-key-rsa', 'private-key-openssh', 'private-key-pgp', 'private-key-pkcs8']) {
      const s = take((x) => x.kind === kind);
      const n = planted.length;
      const ids = ['Kappa', 'Lambda', 'Sigma', 'Theta'].map((x) => `vault${n}${x}`);
      const file = path.join(root, 'lib', `keyed-${n}.ts`);
      const text = ['// keys', ...Array.from({ length: 3 }, (_v, i) => `const pad${i} = ${i};`), 'export const PEM = `', s.text, '`;', `export const ${ids[0]} = ${ids[1]};`, `export const ${ids[2]} = ${ids[3]};`, ''].join('\n');
      planted.push({ where: `neovim buffer ${path.basename(file)} (window below BEGIN)`, secret: s });
      await nvim.lsp.open(uriOf(file), text);
      await waitOpenIn(h, 'neovim', file);
      const cur = path.join(root, 'src', `use-keyed-${n}.ts`);
      await vscode.lsp.open(uriOf(cur), `import { ${ids.join(', ')} } from '../lib';\nconst v = ${ids.join(' + ')};\n`);
      await completeWith(vscode, uriOf(cur), 1, 10, (pieces) => {
        assert.ok(pieces.some((p) => p.source.uri === uriOf(file) && p.source.role === 'snippet'), `the plan has no snippet of ${file}`);
      });
      await close(vscode, uriOf(cur));
      await close(nvim, uriOf(file));
    }
  });

  /** Deny-listed files: secrets, plus a canary under a harmless name that only the deny list protects. */
  function denyListedDocs(): Array<{ uri: string; text: string; secrets: Secret[]; canary: Secret }> {
    const sec = (): Secret => take((x) => !isMultiLine(x));
    const canary = (): Secret => {
      const v = g.alnum(24);
      return { kind: 'deny-listed-file-canary', text: `REGION_HINT=${v}`, values: [v] };
    };
    const mk = (uri: string, build: (c: Secret, s: Secret[]) => string, n = 2) => {
      const s = Array.from({ length: n }, sec);
      const c = canary();
      return { uri, text: build(c, s), secrets: s, canary: c };
    };
    const lines = (c: Secret, s: Secret[]) => [`# ${g.word()} settings`, c.text, ...s.map((x) => x.text), ''].join('\n');
    const sa = () => {
      const s = take((x) => x.kind === 'gcp-service-account-json');
      const c = canary();
      return { s, c, text: s.text.replace('"type": "service_account",', `"type": "service_account",\n  "region_hint": "${c.values[0]}",`) };
    };
    const sa1 = sa();
    const sa2 = sa();
    const key = take((x) => x.kind === 'private-key-openssh');
    const keyCanary = canary();
    return [
      mk(uriOf(path.join(root, '.envrc')), lines),
      mk(uriOf(path.join(root, 'config', 'credentials.json')), (c, s) => JSON.stringify({ region_hint: c.values[0], notes: s.map((x) => x.text) }, null, 2)),
      mk(uriOf(path.join(root, '.pgpass')), (c, s) => `db.internal:5432:app:app:${c.values[0]}\n${s.map((x) => x.text).join('\n')}\n`),
      mk(uriOf(path.join(root, '.git-credentials')), lines),
      mk(uriOf(path.join(root, 'certs', 'server.key')), lines),
      mk(uriOf(path.join(root, '.npmrc')), lines),
      mk(uriOf(path.join(root, '.docker', 'config.json')), (c, s) => JSON.stringify({ auths: {}, hint: c.values[0], s: s.map((x) => x.text) }, null, 2)),
      mk(uriOf(path.join(root, 'ops', 'kubeconfig')), lines),
      mk('vscode-remote://ssh-remote%2Bdevbox/home/dev/app/.env', lines, 3),
      mk('vscode-remote://ssh-remote%2Bdevbox/home/dev/.aws/credentials', lines),
      mk('vscode-vfs://github/example/app/.env.production', lines),
      mk('untitled:/home/dev/secrets.yaml', lines),
      mk('vscode-remote://wsl%2Bubuntu/home/dev/.netrc', lines),
      { uri: uriOf(path.join(root, 'ops', 'prod-sa.json')), text: sa1.text, secrets: [sa1.s], canary: sa1.c },
      // No deny-listed name: known as a service-account key by its content.
      { uri: uriOf(path.join(root, 'ops', 'deployer.json')), text: sa2.text, secrets: [sa2.s], canary: sa2.c },
      { uri: uriOf(path.join(root, 'deploy', 'id_ed25519')), text: `${key.text.replace(/^[^-]*/, '')}\n# ${keyCanary.text}\n`, secrets: [key], canary: keyCanary },
    ];
  }

  it('deny-listed files under file:, vscode-remote:, vscode-vfs: and untitled: URIs, as other buffers and as the buffer being completed', async () => {
    const docs = denyListedDocs();
    // As Neovim buffers that a VS Code completion takes snippets from (3 per request).
    for (let i = 0; i < docs.length; i += 3) {
      const group = docs.slice(i, i + 3);
      const ids = ['Mu', 'Nu', 'Xi', 'Pi'].map((x) => `guard${i}${x}`);
      for (const d of group) {
        // The group's identifiers, in the file's own syntax (a JSON file stays JSON).
        const text = d.text.startsWith('{') ? `{\n  "note": "${ids.join(' ')}",${d.text.slice(1)}` : `# ${ids.join(' ')}\n${d.text}`;
        await nvim.lsp.open(d.uri, text);
        for (const s of d.secrets) planted.push({ where: `neovim deny-listed ${d.uri}`, secret: s });
        canaries.push({ where: `neovim deny-listed ${d.uri}`, secret: d.canary });
      }
      await waitUri('neovim', group.at(-1)!.uri);
      const cur = path.join(root, 'src', `guard-${i}.ts`);
      await vscode.lsp.open(uriOf(cur), `const g = ${ids.join(' + ')};\nexport function guard${i}() { return ${ids.join(' * ')}; }\n`);
      await completeWith(vscode, uriOf(cur), 1, 20, (pieces) => {
        for (const d of group) {
          const p = pieces.find((x) => x.source.uri === d.uri);
          assert.ok(p, `the plan has no snippet of ${d.uri}: ${JSON.stringify(pieces.map((x) => x.source.uri))}`);
          assert.equal(p.dataClass, 'secret', `${d.uri} is not treated as a secret file`);
        }
      });
      await close(vscode, uriOf(cur));
      for (const d of group) await close(nvim, d.uri);
    }
    // As the buffer being completed (VS Code has the .env open under a remote URI).
    for (const d of docs.filter((x) => !x.uri.startsWith('file:')).slice(0, 3)) {
      const s = take((x) => !isMultiLine(x));
      const c = { ...d.canary, values: [g.alnum(24)] };
      const text = `${s.text}\nREGION_HINT=${c.values[0]}\n\n`;
      const uri = d.uri;
      await vscode.lsp.open(uri, text);
      planted.push({ where: `vscode deny-listed current buffer ${uri}`, secret: s });
      canaries.push({ where: `vscode deny-listed current buffer ${uri}`, secret: c });
      await completeWith(vscode, uri, 2, 0, (pieces) => {
        const p = pieces.find((x) => x.source.uri === uri && x.source.role === 'prefix');
        assert.ok(p, `the plan has no prefix piece of ${uri}`);
        assert.equal(p.dataClass, 'secret');
      });
      await close(vscode, uri);
    }
  });

  it('memory items: remembered notes that completions pull into their context', async () => {
    for (let k = 0; k < 8; k++) {
      const topic = `memtopic${k}q`;
      const ids: string[] = [];
      for (let j = 0; j < 3; j++) {
        const s = take((x) => !isMultiLine(x) && x.text.length < 400);
        const r = await vscode.lsp.connection.sendRequest(MemoryAdd.method, { text: `${topic} note ${j}: ${s.text}`, workspace: null }) as { id: string };
        ids.push(r.id);
        planted.push({ where: `memory item ${r.id}`, secret: s });
      }
      const file = path.join(root, 'src', `notes-${k}.ts`);
      // The last three lines before the cursor are the memory query: only the topic word.
      await vscode.lsp.open(uriOf(file), `// ${topic}\n// ${topic}\n${topic}(`);
      await completeWith(vscode, uriOf(file), 2, topic.length + 1, (pieces) => {
        for (const id of ids) assert.ok(pieces.some((p) => p.source.kind === 'memory' && p.source.uri === `memory:${id}`), `the plan has no memory item ${id}: ${JSON.stringify(pieces.map((p) => p.source))}`);
      });
      await close(vscode, uriOf(file));
    }
  });

  it('tasks (hearth/task): whole documents, an instruction, a range inside a key body, a remote .env', async () => {
    const sendTask = async (instruction: string, extra: Record<string, unknown>): Promise<void> => {
      const before = server.requests.length;
      const r = await vscode.lsp.connection.sendRequest(Task.method, { instruction, ...extra }) as { route: { provider: string } };
      assert.equal(r.route.provider, 'scripted');
      assert.equal(server.requests.length, before + 1, 'the task did not reach the server');
    };
    for (let t = 0; t < 4; t++) {
      const file = path.join(root, 'tasks', `bundle-${t}.ts`);
      const where = `task selection ${path.basename(file)}`;
      const parts: string[] = [];
      for (const b of makeBenign(g, 60)) {
        parts.push(b);
        benign.push({ where, text: b });
      }
      for (let i = 0; i < 12 && pool.length; i++) {
        const s = take();
        planted.push({ where, secret: s });
        parts.splice(g.int(parts.length + 1), 0, s.text);
      }
      const text = parts.join('\n\n');
      await vscode.lsp.open(uriOf(file), text);
      const inInstruction = take((x) => !isMultiLine(x));
      planted.push({ where: 'task instruction', secret: inInstruction });
      await sendTask(`Rotate the credential in this file; the old one was ${inInstruction.text}`, { textDocument: { uri: uriOf(file) } });
    }
    // A selection from the middle of a key: body lines, no BEGIN or END.
    for (const kind of ['private-key-pkcs8', 'private-key-openssh', 'private-key-pgp']) {
      const s = take((x) => x.kind === kind && x.values.length >= 8);
      const file = path.join(root, 'tasks', `${kind}.ts`);
      const text = `// ${kind}\n${s.text}\n`;
      const lines = text.split('\n');
      const begin = lines.findIndex((l) => l.includes('-----BEGIN'));
      const from = begin + 3;
      const to = Math.min(lines.length - 3, from + 6);
      const selected = lines.slice(from, to);
      planted.push({ where: `task range inside ${kind}`, secret: { kind, text: selected.join('\n'), values: selected.map((l) => l.trim()).filter((l) => l.length >= 8) } });
      await vscode.lsp.open(uriOf(file), text);
      await sendTask('What is this?', { textDocument: { uri: uriOf(file) }, range: { start: { line: from, character: 0 }, end: { line: to, character: 0 } } });
    }
    // A deny-listed remote file as the selection.
    const uri = 'vscode-remote://ssh-remote%2Bdevbox/home/dev/service/.env';
    const s = [take((x) => !isMultiLine(x)), take((x) => !isMultiLine(x))];
    const c = g.alnum(24);
    await vscode.lsp.open(uri, `${s.map((x) => x.text).join('\n')}\nREGION_HINT=${c}\n`);
    for (const x of s) planted.push({ where: `task selection ${uri}`, secret: x });
    canaries.push({ where: `task selection ${uri}`, secret: { kind: 'deny-listed-file-canary', text: c, values: [c] } });
    await sendTask('Explain these settings', { textDocument: { uri } });
  });

  it('0 secrets and 0 fragments of 8+ characters reached the server; at least 98% of the benign corpus arrived unchanged', () => {
    // What the server received: raw bytes (request lines, headers, bodies) and every string of
    // every JSON body decoded (so an escaped newline or quote hides nothing).
    const raw = server.everything();
    const decoded: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') decoded.push(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    for (const r of server.requests) if (r.body.length) collect(JSON.parse(r.body.toString('utf8')));
    const received = `${raw}\n${decoded.join('\n')}`;

    const kinds = new Set(planted.map((p) => p.secret.kind));
    const leaks: string[] = [];
    for (const p of [...planted, ...canaries]) {
      const f = leakedFragment(p.secret.values, received);
      if (f) leaks.push(`${p.secret.kind} in ${p.where}: fragment ${JSON.stringify(f)} of ${JSON.stringify(p.secret.text.slice(0, 120))}`);
    }
    const arrived = benign.filter((b) => decoded.some((d) => d.includes(b.text)));
    const benignPct = (100 * arrived.length) / benign.length;
    const places = new Set(planted.map((p) => p.where.split(' ').slice(0, 2).join(' ')));
    console.log(`      secrets: ${planted.length} of ${kinds.size} kinds (+ ${canaries.length} deny-list canaries) planted in ${places.size} kinds of place, sent in ${server.requests.length} requests; ` +
      `reached the server: ${leaks.length} (secrets caught ${planted.length + canaries.length - leaks.length}/${planted.length + canaries.length})`);
    console.log(`      benign: ${arrived.length}/${benign.length} snippets arrived unchanged (${benignPct.toFixed(1)}%)`);
    for (const b of benign.filter((x) => !arrived.includes(x)).slice(0, 10)) {
      const head = b.text.slice(0, 24);
      const seen = decoded.find((d) => d.includes(head));
      const at = seen ? seen.indexOf(head) : -1;
      console.log(`        changed: ${JSON.stringify(b.text.slice(0, 160))} (${b.where}); arrived as ${seen ? JSON.stringify(seen.slice(at, at + b.text.length + 40)) : 'nothing'}`);
    }
    assert.ok(planted.length >= 150, `only ${planted.length} secrets planted`);
    assert.ok(kinds.size >= 35, `only ${kinds.size} kinds planted: ${[...kinds].join(', ')}`);
    assert.ok(KINDS.every((k) => kinds.has(k)), `kinds never planted: ${KINDS.filter((k) => !kinds.has(k)).join(', ')}`);
    assert.ok(benign.length >= 200, `only ${benign.length} benign snippets`);
    assert.deepEqual(leaks, [], `secrets reached the server (seed ${SEED}):\n${leaks.join('\n')}`);
    assert.ok(benignPct >= 98, `only ${benignPct.toFixed(1)}% of the benign corpus arrived unchanged (seed ${SEED})`);
  });
});
