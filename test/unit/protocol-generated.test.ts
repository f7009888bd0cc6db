// Methods are declared once in server/protocol.ts; docs/protocol.md and the Neovim plugin's method
// table are generated from them (server/generate-protocol.ts). These tests fail when someone edits
// either side without regenerating, and check that the renderings say what the declarations say.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import * as protocol from '../../server/protocol.js';
import { Ask, HEARTH_METHODS, Hello, Lsp, MemoryAdd, MemoryDidChange, Status } from '../../server/protocol.js';
import { GENERATE_PROTOCOL_COMMAND, luaKey, renderMarkdown, renderSchema } from '../../server/protocol-render.js';
import { ROOT, drifted, protocolArtefacts } from '../../server/generate-protocol.js';

const REGENERATE = `run \`${GENERATE_PROTOCOL_COMMAND}\``;
type Decl = (typeof HEARTH_METHODS)[number];
const ALL: Decl[] = [...HEARTH_METHODS, ...(Object.values(Lsp) as Decl[])];

/** The part of docs/protocol.md about one method: from its heading to the next. */
function sectionOf(md: string, method: string): string {
  const start = md.indexOf(`\n### ${method}\n`);
  assert.ok(start >= 0, `docs/protocol.md has no section for ${method}`);
  const end = md.indexOf('\n### ', start + 1);
  return md.slice(start, end < 0 ? undefined : end);
}

describe('protocol declared once (server/protocol.ts → docs/protocol.md, the Neovim method table)', () => {
  for (const a of protocolArtefacts()) {
    it(`${a.file} is what the declarations generate`, () => {
      const onDisk = readFileSync(path.join(ROOT, a.file), 'utf8');
      assert.equal(onDisk, a.text, `${a.file} drifted from server/protocol.ts; ${REGENERATE}`);
    });
  }

  it('drifted() names an edited and a missing artefact, and none in this checkout; --check names the file and the command that repairs it', function () {
    this.timeout(30_000);
    assert.deepEqual(drifted(), []);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'hearth-protogen-'));
    try {
      for (const a of protocolArtefacts()) {
        mkdirSync(path.dirname(path.join(tmp, a.file)), { recursive: true });
        cpSync(path.join(ROOT, a.file), path.join(tmp, a.file));
      }
      assert.deepEqual(drifted(tmp), []);
      const doc = path.join(tmp, 'docs/protocol.md');
      writeFileSync(doc, readFileSync(doc, 'utf8').replace('since 1', 'since 2'));
      assert.deepEqual(drifted(tmp), ['docs/protocol.md']);
      const check = (): ReturnType<typeof spawnSync> => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/generate-protocol.ts'), '--check', '--root', tmp],
        { cwd: ROOT, encoding: 'utf8' });
      const stale = check();
      assert.equal(stale.status, 1);
      assert.equal(String(stale.stderr), `docs/protocol.md differs from server/protocol.ts; ${REGENERATE}\n`);
      rmSync(doc);
      assert.deepEqual(drifted(tmp), ['docs/protocol.md']);
      // The command it names repairs it.
      const gen = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/generate-protocol.ts'), '--root', tmp], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(gen.status, 0, gen.stderr);
      assert.deepEqual(drifted(tmp), []);
      assert.equal(check().status, 0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('every declaration exported by server/protocol.ts is listed (HEARTH_METHODS or Lsp), once', () => {
    const listed = new Set<unknown>(ALL);
    for (const [name, v] of Object.entries(protocol)) {
      const d = v as Partial<Decl> | null;
      if (d && typeof d === 'object' && (d.kind === 'request' || d.kind === 'notification') && typeof d.method === 'string') {
        assert.ok(listed.has(v), `${name} (${d.method}) is exported but not in HEARTH_METHODS: it would be missing from docs/protocol.md and the Lua table`);
      }
    }
    const names = ALL.map((d) => d.method);
    assert.equal(new Set(names).size, names.length, 'a method is declared twice');
    for (const d of HEARTH_METHODS) assert.match(d.method, /^hearth\/[a-z][a-zA-Z]*(\/[a-z][a-zA-Z]*)*$/, d.method);
  });

  it('each method\'s section gives its kind, direction, version, idempotency, doc, params and result', () => {
    const md = renderMarkdown();
    for (const d of ALL) {
      const s = sectionOf(md, d.method);
      const arrow = d.direction === 'clientToServer' ? 'client → server' : 'server → client';
      assert.ok(s.includes(`${d.kind} · ${arrow} · since ${d.since}`), `${d.method}: ${s.slice(0, 200)}`);
      assert.ok(s.includes(d.doc), `${d.method}: doc missing`);
      assert.ok(s.includes('```ts\n' + renderSchema(d.params) + '\n```'), `${d.method}: params missing`);
      if (d.kind === 'request') {
        assert.ok(s.includes('```ts\n' + renderSchema(d.result) + '\n```'), `${d.method}: result missing`);
        assert.ok(s.includes(d.idempotent ? 'idempotent (' : 'not idempotent'), `${d.method}: idempotency missing`);
      } else {
        assert.ok(!s.includes('Result:'), `${d.method} is a notification: no result`);
      }
      assert.ok(md.includes(`| [\`${d.method}\`](#`), `${d.method} missing from the summary table`);
    }
    // Spot checks against the declarations as written.
    assert.match(sectionOf(md, MemoryAdd.method), /not idempotent; resent safely with `requestKey`/);
    assert.match(sectionOf(md, Hello.method), /token: string\(1\.\.256\)/);
    assert.match(sectionOf(md, Status.method), /Params \(may be omitted\):/);
  });

  it('renders schemas readably: closed and open objects, optional fields, bounds, unions, records, arrays, long types broken into lines', () => {
    assert.equal(renderSchema(Type.Object({ a: Type.String({ minLength: 1, maxLength: 8 }), b: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false })),
      '{| a: string(1..8), b?: integer(≥ 0) |}');
    assert.equal(renderSchema(Type.Object({ x: Type.Union([Type.Literal('a'), Type.Literal(2), Type.Null()]) })), '{ x: "a" | 2 | null }');
    assert.equal(renderSchema(Type.Record(Type.String(), Type.Boolean())), '{ [key: string]: boolean }');
    assert.equal(renderSchema(Type.Array(Type.String())), 'string[]');
    assert.equal(renderSchema(Type.Array(Type.Object({ k: Type.Number({ exclusiveMinimum: 0 }) }), { maxItems: 3 })), 'Array<{ k: number(> 0) }, ≤ 3 items>');
    assert.equal(renderSchema(Type.Unknown()), 'unknown');
    const long = Type.Object(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field${i}`, Type.Union([Type.String(), Type.Null()])])));
    const text = renderSchema(long);
    assert.equal(text.split('\n').length, 14, text);
    assert.match(text, /^\{\n {2}field0: string \| null,\n/);
    for (const line of renderMarkdown().split('\n')) {
      if (line.startsWith('  ') || line.startsWith('{')) assert.ok(line.length <= 120, `schema line over 120 columns: ${line}`);
    }
  });
});

describe('the Neovim plugin\'s method table (extensions/neovim/lua/hearth/protocol.lua, generated)', () => {
  const LUA = path.join(ROOT, 'extensions/neovim/lua/hearth/protocol.lua');
  const expected = (): { hearth: Record<string, string>; lsp: Record<string, string> } => ({
    hearth: Object.fromEntries(HEARTH_METHODS.map((d) => [luaKey(d.method), d.method])),
    lsp: Object.fromEntries(Object.entries(Lsp).map(([k, d]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), d.method])),
  });

  it('real Neovim loads it: every hearth/* method under its key, the LSP methods under lsp, nothing else', function () {
    const probe = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) return this.skip();
    const lua = `local m = dofile(${JSON.stringify(LUA)}); local h = {}; for k, v in pairs(m) do if k ~= 'lsp' then h[k] = v end end; `
      + 'io.stdout:write(vim.fn.json_encode({ hearth = h, lsp = m.lsp }))';
    const r = spawnSync('nvim', ['--headless', '-u', 'NONE', '-i', 'NONE', '-c', `lua ${lua}`, '-c', 'qa!'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), expected());
  });

  it('keys follow the rule (hearth/memory/didChange → memory_did_change) and are unique', () => {
    assert.equal(luaKey(MemoryDidChange.method), 'memory_did_change');
    assert.equal(luaKey(Ask.method), 'ask');
    assert.throws(() => luaKey('textDocument/didOpen'), /not a hearth\/\* method/);
    const e = expected();
    assert.equal(Object.keys(e.hearth).length, HEARTH_METHODS.length);
    assert.equal(Object.keys(e.lsp).length, Object.keys(Lsp).length);
  });

  it('every methods.X the plugin reads is in the table (a renamed method fails here, not in an editor)', () => {
    const e = expected();
    const dir = path.join(ROOT, 'extensions/neovim/lua/hearth');
    let uses = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.lua') && x !== 'protocol.lua')) {
      const src = readFileSync(path.join(dir, f), 'utf8');
      if (!/local methods = require\('hearth\.protocol'\)/.test(src)) continue;
      for (const m of src.matchAll(/\bmethods\.([a-z_]+)(?:\.([a-z_]+))?/g)) {
        uses++;
        const ok = m[1] === 'lsp' ? m[2] !== undefined && m[2] in e.lsp : m[1]! in e.hearth && m[2] === undefined;
        assert.ok(ok, `${f}: methods.${m[1]}${m[2] ? `.${m[2]}` : ''} is not in the generated table`);
      }
    }
    assert.ok(uses >= 15, `found only ${uses} uses of the method table`);
  });
});
