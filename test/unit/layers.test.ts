// The layering invariants of docs/architecture (README "Architecture"): core/ imports no editor,
// no transport and no sockets — only the egress gate opens connections off the machine — and
// server/ imports no editor API. Checked on the source, so a new import fails here, not in review.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Layer {
  dir: string;
  /** Module specifiers (exact, or a prefix ending in '/') no file of this layer may import. */
  forbidden: string[];
  /** Folders (relative to ROOT) no file of this layer may import from. */
  forbiddenDirs: string[];
  /** Files allowed to import what is forbidden for the rest, and why. */
  exceptions: Record<string, { allow: string[]; why: string }>;
}

const SOCKETS = ['node:net', 'node:http', 'node:https', 'node:http2', 'node:tls', 'node:dgram', 'net', 'http', 'https', 'http2', 'tls', 'dgram'];

export const LAYERS: Layer[] = [
  {
    dir: 'core',
    forbidden: ['vscode', 'vscode-jsonrpc', 'vscode-jsonrpc/', 'vscode-languageserver', 'vscode-languageserver/', 'vscode-languageserver-protocol',
      'vscode-languageclient', 'vscode-languageclient/', 'neovim', '@modelcontextprotocol/', ...SOCKETS],
    forbiddenDirs: ['server', 'extensions', 'test', 'bench'],
    exceptions: {
      'core/egress/gate.ts': { allow: ['node:http', 'node:https', 'node:net'], why: 'the egress gate is the one place that opens outbound HTTP' },
    },
  },
  {
    dir: 'server',
    forbidden: ['vscode', 'vscode-languageclient', 'vscode-languageclient/', 'neovim'],
    forbiddenDirs: ['extensions', 'test', 'bench'],
    exceptions: {},
  },
];

/** Every module specifier a TypeScript source imports or re-exports (static and dynamic). */
export function importsOf(src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /(?:^|[^\w.])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^\w.])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  return out;
}

/** Calls of the global fetch (not type positions such as `typeof globalThis.fetch`). */
export function globalFetchCalls(src: string): number {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/typeof\s+globalThis\.fetch/g, '');
  return [...code.matchAll(/(?<![\w.$])(?:globalThis\.)?fetch\s*\(|(?:\?\?|\|\|)\s*(?:globalThis\.)?fetch\b/g)].length;
}

function violations(layer: Layer, file: string, src: string): string[] {
  const rel = path.relative(ROOT, file);
  const allowed = layer.exceptions[rel]?.allow ?? [];
  const found: string[] = [];
  for (const spec of importsOf(src)) {
    if (allowed.includes(spec)) continue;
    if (layer.forbidden.some((f) => (f.endsWith('/') ? spec.startsWith(f) : spec === f))) found.push(`${rel} imports '${spec}'`);
    if (spec.startsWith('.')) {
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec));
      const top = target.split(path.sep)[0]!;
      if (layer.forbiddenDirs.includes(top)) found.push(`${rel} imports '${spec}' (${top}/)`);
    }
  }
  if (layer.dir === 'core' && !rel.startsWith(`core${path.sep}egress${path.sep}`) && globalFetchCalls(src) > 0) {
    found.push(`${rel} calls the global fetch (only the egress gate may reach the network; take the gate's fetch as a parameter)`);
  }
  return found;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`));
}

describe('layers: what each folder may import', () => {
  it('the checker sees every import form and the global fetch (so the checks below can fail)', () => {
    const src = [
      "import a from 'node:http';", "import type { B } from '../../server/protocol.js';", "export * from 'vscode-jsonrpc/node';",
      "import 'net';", "const c = await import('vscode');", "// import x from 'node:https';", "const r = await fetch(url);",
      'const f = opts.fetch ?? fetch;', 'type F = typeof globalThis.fetch;',
    ].join('\n');
    assert.deepEqual(importsOf(src), ['node:http', '../../server/protocol.js', 'vscode-jsonrpc/node', 'net', 'vscode']);
    assert.equal(globalFetchCalls(src), 2);
    const fake = path.join(ROOT, 'core', 'x', 'fake.ts');
    const v = violations(LAYERS[0]!, fake, src);
    assert.equal(v.length, 6, v.join('\n'));
    assert.ok(v.some((x) => x.includes('(server/)')));
  });

  for (const layer of LAYERS) {
    it(`${layer.dir}/ imports none of: ${[...layer.forbiddenDirs.map((d) => `${d}/`), 'editor APIs', ...(layer.dir === 'core' ? ['vscode-jsonrpc', 'sockets (outside the egress gate)', 'the global fetch'] : [])].join(', ')}`, () => {
      const files = sources(path.join(ROOT, layer.dir));
      assert.ok(files.length > 10, `found only ${files.length} sources under ${layer.dir}/`);
      const found = files.flatMap((f) => violations(layer, f, fs.readFileSync(f, 'utf8')));
      assert.deepEqual(found, []);
    });
  }
});
