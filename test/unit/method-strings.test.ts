// No `hearth/*` method name is spelled outside server/protocol.ts and the files generated from it:
// code uses the declaration's `.method` (TypeScript) or the generated table (Lua), so a renamed
// method is a compile error or a failing drift test, never a silent MethodNotFound.
//
// The rule, precisely: a string literal in code (not a comment) whose whole value is `hearth/`
// followed by method-name segments (letters and digits, separated by '/'), or a template whose
// text starts with such a name and continues with `${…}` (a name built from the raw prefix), or a
// string containing such a name in quotes (Lua or JSON written inside a string). Prose that
// merely mentions a method ("hearth/status p99 …") and paths ("lua/hearth/init.lua") are not
// method strings. TypeScript is read with the TypeScript parser, Lua with a small tokenizer.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { METHOD_PREFIX } from '../../server/protocol.js';
import { ROOT, protocolArtefacts } from '../../server/generate-protocol.js';

const P = METHOD_PREFIX.replace('/', '\\/');
const SEGS = '[A-Za-z][A-Za-z0-9]*(?:\\/[A-Za-z][A-Za-z0-9]*)*';
/** The whole value is a method name (or the bare prefix). */
const WHOLE = new RegExp(`^${P}(?:${SEGS})?$`);
/** A template's first text part: a method name, then `${`. */
const HEAD = new RegExp(`^${P}(?:${SEGS})?\\/?$`);
/** A method name in quotes inside a longer string (Lua, JSON). */
const QUOTED = new RegExp(`(['"\`])${P}(?:${SEGS})?\\1`);

const SCANNED = ['core', 'server', 'test', 'bench', 'extensions/neovim/lua',
  ...readdirSync(path.join(ROOT, 'extensions'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `extensions/${d.name}/src`)];
const CODE = /\.(?:[cm]?ts|[cm]?js|lua)$/;
/** server/protocol.ts declares the names; the generated files are checked by their drift test. */
const EXEMPT = new Set(['server/protocol.ts', ...protocolArtefacts().map((a) => a.file)]);

export interface Hit { line: number; text: string }

/** String literals of TypeScript/JavaScript source that spell a method name. */
export function tsHits(source: string, file = 'x.ts'): Hit[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const hits: Hit[] = [];
  const at = (n: ts.Node, text: string): void => void hits.push({ line: sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1, text });
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
      if (WHOLE.test(n.text) || QUOTED.test(n.text)) at(n, n.text);
    } else if (ts.isTemplateHead(n)) {
      if (HEAD.test(n.text) || QUOTED.test(n.text)) at(n, n.text);
    } else if (ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) {
      if (QUOTED.test(n.text)) at(n, n.text);
    }
    n.forEachChild(visit);
  };
  visit(sf);
  return hits;
}

/** Strings of Lua source (comments skipped) that spell a method name. */
export function luaHits(source: string): Hit[] {
  const hits: Hit[] = [];
  let i = 0;
  let line = 1;
  const longClose = (from: number): { level: number; end: number } | undefined => {
    const m = /^\[(=*)\[/.exec(source.slice(from));
    return m ? { level: m[1]!.length, end: from + m[0].length } : undefined;
  };
  const skipLong = (level: number, from: number): number => {
    const close = `]${'='.repeat(level)}]`;
    const end = source.indexOf(close, from);
    const stop = end < 0 ? source.length : end + close.length;
    line += (source.slice(from, stop).match(/\n/g) ?? []).length;
    return stop;
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\n') { line++; i++; continue; }
    if (c === '-' && source[i + 1] === '-') {
      const long = longClose(i + 2);
      if (long) { i = skipLong(long.level, long.end); continue; }
      const nl = source.indexOf('\n', i);
      i = nl < 0 ? source.length : nl;
      continue;
    }
    if (c === '[') {
      const long = longClose(i);
      if (long) {
        const startLine = line;
        const stop = skipLong(long.level, long.end);
        const value = source.slice(long.end, stop - long.level - 2);
        if (WHOLE.test(value) || QUOTED.test(value)) hits.push({ line: startLine, text: value });
        i = stop;
        continue;
      }
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      while (j < source.length && source[j] !== c && source[j] !== '\n') {
        if (source[j] === '\\') { value += source[j + 1] ?? ''; j += 2; continue; }
        value += source[j];
        j++;
      }
      if (WHOLE.test(value) || QUOTED.test(value)) hits.push({ line, text: value });
      i = j + 1;
      continue;
    }
    i++;
  }
  return hits;
}

function* files(dir: string): Generator<string> {
  for (const d of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${d.name}`;
    if (d.isSymbolicLink() || d.name === 'node_modules' || d.name === 'dist') continue; // test/e2e/.tools: installed tools
    if (d.isDirectory()) yield* files(rel);
    else if (CODE.test(d.name)) yield rel;
  }
}

function existing(dir: string): boolean {
  try {
    return readdirSync(path.join(ROOT, dir)).length >= 0;
  } catch {
    return false;
  }
}

describe('no raw hearth/* method strings outside server/protocol.ts and generated files', () => {
  it('the rule finds method strings and only those (TypeScript)', () => {
    const m = `${METHOD_PREFIX}status`;
    const src = [
      `conn.sendRequest('${m}');`, // 1: hit
      `// a comment naming '${m}' is documentation`,
      `/** see \`${m}\` */ const a = 1;`,
      `waitFor('${m} to answer', f);`, // prose: not a method string
      `const p = 'lua/${METHOD_PREFIX}init.lua';`, // a path
      `const u = \`${METHOD_PREFIX}nope\${n}\`;`, // 6: hit, a name built from the raw prefix
      `log(\`${m} p99 \${x} ms\`);`, // prose in a template
      `nvim.lua(\`c.handlers['${METHOD_PREFIX}log'](nil)\`);`, // 8: hit, Lua inside a template
      `const j = \`{"method":"${m}"\${extra}}\`;`, // 9: hit, JSON inside a template
      `x.startsWith('${METHOD_PREFIX}');`, // 10: hit, the bare prefix (use METHOD_PREFIX)
      `const meta = { '${METHOD_PREFIX}proposer': p };`, // 11: hit, an MCP _meta key (McpMeta)
      `const ok = Status.method;`,
    ].join('\n');
    assert.deepEqual(tsHits(src).map((h) => h.line), [1, 6, 8, 9, 10, 11]);
  });

  it('the rule finds method strings and only those (Lua)', () => {
    const m = `${METHOD_PREFIX}status`;
    const src = [
      `c.request('${m}', {})`, // 1: hit
      `-- '${m}' in a comment`,
      `--[[ "${m}" in a long comment`,
      `  still comment ]] local x = "${m}"`, // 4: hit
      `local s = [[${m}]]`, // 5: hit
      `local p = 'lua/${METHOD_PREFIX}init.lua'`,
      `notify('${m} failed: ' .. e)`, // prose
      `c.request(methods.status, {})`,
    ].join('\n');
    assert.deepEqual(luaHits(src).map((h) => h.line), [1, 4, 5]);
  });

  it('finds none in core/, server/, test/, bench/, extensions/*/src, extensions/neovim/lua', () => {
    const found: string[] = [];
    let scanned = 0;
    for (const dir of SCANNED.filter(existing)) {
      for (const f of files(dir)) {
        if (EXEMPT.has(f)) continue;
        scanned++;
        const text = readFileSync(path.join(ROOT, f), 'utf8');
        for (const h of f.endsWith('.lua') ? luaHits(text) : tsHits(text, f)) found.push(`${f}:${h.line}: ${JSON.stringify(h.text.slice(0, 80))}`);
      }
    }
    assert.ok(scanned > 100, `scanned only ${scanned} files`);
    assert.deepEqual(found, [], `raw ${METHOD_PREFIX}* method strings (use the declaration's .method from server/protocol.ts, `
      + `McpMeta for MCP _meta keys, METHOD_PREFIX for made-up names; in Lua the generated require('hearth.protocol') table):\n${found.join('\n')}`);
  });
});
