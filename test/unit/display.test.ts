// The one rule behind honest prompts (issue 11, core/text/display.ts): what a prompt shows cannot be
// visually forged (bidi controls, invisible characters, look-alikes are escaped and flagged), and
// normal text in any language passes through unchanged and unflagged.
import assert from 'node:assert/strict';
import {
  approvalDisplay, codeLabel, displayHost, displayString, displayText, displayUrl, egressDisplay, escapeCodePoint,
} from '../../core/text/display.js';

const hex = (cp: number): string => cp.toString(16).toUpperCase().padStart(4, '0');

describe('honest prompts: the display rule (core/text/display)', () => {
  it('the forged argv of issue 11: U+202E, zero-width joiners and a look-alike ɡit are escaped and each is flagged with name and place', () => {
    const d = approvalDisplay({
      tool: 'shell.run',
      args: { argv: ['\u0261it', 'push', '--force\u200D\u200D', 'origin', 'main\u202E'] },
      argv: ['\u0261it', 'push', '--force\u200D\u200D', 'origin', 'main\u202E'],
      cwd: '/work/ws',
      proposer: { model: 'agent', provider: 'mcp' },
      requester: { name: 'hearth-cli', kind: 'cli' },
      workspaceRoot: '/work/ws',
      reason: 'built-in default says ask',
      rationale: null,
    });
    assert.deepEqual(d.argv, ['\\u{0261}it', 'push', '--force\\u{200D}\\u{200D}', 'origin', 'main\\u{202E}']);
    const messages = d.warnings.map((w) => w.message);
    assert.ok(messages.includes(`argv[0] contains U+0261 LATIN SMALL LETTER SCRIPT G, looks like 'g' (in "\\u{0261}it")`), messages.join('\n'));
    assert.ok(messages.includes('argv[2] contains U+200D ZERO WIDTH JOINER, an invisible character (2 times)'), messages.join('\n'));
    assert.ok(messages.includes('argv[4] contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control that reorders how the text around it is shown'), messages.join('\n'));
    assert.equal(d.warnings.length, 3, messages.join('\n'));
    assert.deepEqual(d.warnings.map((w) => [w.where, w.kind, w.code, w.looksLike]), [
      ['argv[0]', 'confusable', 'U+0261', 'g'], ['argv[2]', 'invisible', 'U+200D', undefined], ['argv[4]', 'bidi', 'U+202E', undefined],
    ]);
    // Nothing the rule flags survives raw anywhere in the display form.
    assert.doesNotMatch(JSON.stringify(d), /[\u0261\u200D\u202E]/u);
  });

  it('every listed bidi control, invisible character and control character is escaped and flagged, in argv and in diffs', () => {
    const listed = [
      0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C,
      0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x00AD, 0x034F, 0x3164, 0x115F, 0x1160, 0xFFA0, 0x2800,
      0x180E, 0x2028, 0x2029, 0xFE00, 0xFE0F, 0xE0100, 0xE01EF, 0xE0001, 0xE0041, 0xE007F,
      ...Array.from({ length: 32 }, (_, i) => i).filter((c) => c !== 0x0A && c !== 0x09), 0x7F, 0x80, 0x85, 0x9B, 0x9F,
    ];
    for (const cp of listed) {
      const ch = String.fromCodePoint(cp);
      for (const [mode, where] of [['strict', 'argv[1]'], ['text', 'diff']] as const) {
        const d = displayString(`ab${ch}cd`, where, mode, { lines: mode === 'text' });
        assert.equal(d.text, `ab\\u{${hex(cp)}}cd`, `${mode} ${codeLabel(cp)}`);
        assert.equal(d.warnings.length, 1, `${mode} ${codeLabel(cp)}: ${JSON.stringify(d.warnings)}`);
        assert.equal(d.warnings[0]!.code, codeLabel(cp));
        assert.match(d.warnings[0]!.message, new RegExp(`^${mode === 'text' ? 'diff line 1' : 'argv\\[1\\]'} contains U\\+${hex(cp)} `));
      }
    }
    // Newlines and tabs are escaped in a command line (a newline could fake another prompt line) but not in a diff.
    assert.equal(displayString('a\nb\tc', 'argv[0]', 'strict').text, 'a\\u{000A}b\\u{0009}c');
    assert.deepEqual(displayText('a\nb\tc\r\n', 'diff'), { text: 'a\nb\tc\r\n', warnings: [] });
    // ... and a carriage return that is not a line ending is escaped everywhere (it overwrites the line on a terminal).
    assert.equal(displayText('+ok\rrm -rf ~', 'diff').text, '+ok\\u{000D}rm -rf ~');
  });

  it('no character of any category that hides or fakes text reaches the strict display raw (every BMP and tag-plane code point)', () => {
    const hidden = /[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Cs}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;
    let flagged = 0;
    const cps: number[] = [];
    for (let cp = 0; cp <= 0xFFFF; cp++) cps.push(cp);
    for (let cp = 0xE0000; cp <= 0xE01EF; cp++) cps.push(cp);
    for (const cp of cps) {
      const d = displayString(`x${String.fromCodePoint(cp)}y`, 'argv[0]', 'strict');
      assert.doesNotMatch(d.text, hidden, `${codeLabel(cp)} reached the display raw: ${JSON.stringify(d.text)}`);
      if (d.warnings.length) flagged++;
      else assert.equal(d.text, `x${String.fromCodePoint(cp)}y`, `${codeLabel(cp)} was changed without a warning`);
    }
    assert.ok(flagged > 1000, `only ${flagged} code points flagged`);
  });

  it('look-alikes: Cyrillic, Greek and IPA letters in a Latin word, fullwidth and mathematical forms, punctuation that passes for ASCII in a command', () => {
    const cases: Array<[string, string, string, string]> = [
      // input, expected display, code flagged, looks like
      ['\u0441url', '\\u{0441}url', 'U+0441', 'c'],
      ['p\u0430sswd', 'p\\u{0430}sswd', 'U+0430', 'a'],
      ['/etc/\u0440asswd', '/etc/\\u{0440}asswd', 'U+0440', 'p'],
      ['g\u03BFogle', 'g\\u{03BF}ogle', 'U+03BF', 'o'],
      ['\u0261it', '\\u{0261}it', 'U+0261', 'g'],
      ['\uFF47it', '\\u{FF47}it', 'U+FF47', 'g'],
      ['\u{1D42B}m', '\\u{1D42B}m', 'U+1D42B', 'r'],
      ['\u2212rf', '\\u{2212}rf', 'U+2212', '-'],
      ['a\u2215b', 'a\\u{2215}b', 'U+2215', '/'],
      ['a\uFF0Fb', 'a\\u{FF0F}b', 'U+FF0F', '/'],
      ['x\u037E', 'x\\u{037E}', 'U+037E', ';'],
      ['\u0455\u04BB', '\\u{0455}\\u{04BB}', 'U+0455', 's'], // a whole word of look-alikes ("sh") in a command
    ];
    for (const [input, shown, code, looksLike] of cases) {
      const d = displayString(input, 'argv[0]', 'strict');
      assert.equal(d.text, shown, input);
      const w = d.warnings.find((x) => x.code === code);
      assert.ok(w, `${input}: no warning for ${code}: ${JSON.stringify(d.warnings)}`);
      assert.equal(w.kind, 'confusable');
      assert.equal(w.looksLike, looksLike);
      assert.match(w.message, new RegExp(`^argv\\[0\\] contains ${code.replace('+', '\\+')} .+, looks like '${looksLike.replace(/[-/\\]/g, '\\$&')}'`));
    }
    // In a diff, a look-alike inside a Latin identifier is flagged; a word of the other language is not.
    const diff = displayText('+const \u0440ayload = load();\n+// \u0440\u0430\u0437\u043C\u0435\u0440 \u0444\u0430\u0439\u043B\u0430\n', 'diff');
    assert.equal(diff.text, '+const \\u{0440}ayload = load();\n+// \u0440\u0430\u0437\u043C\u0435\u0440 \u0444\u0430\u0439\u043B\u0430\n');
    assert.deepEqual(diff.warnings.map((w) => [w.where, w.code]), [['diff line 1', 'U+0440']]);
  });

  it('precision: normal text in many languages, emoji sequences and code pass through unchanged and unflagged', () => {
    const corpus = [
      '// Café crème, naïve façade, déjà vu — « bonjour » (with NO-BREAK SPACE\u00A0inside French quotes)',
      '// Straße, Größe, Übermaß; Łódź, Kraków; Ærøskøbing; São Paulo nº 5, 1ª edição',
      '// 日本語のコメント：テスト（例）、全角スペース\u3000あり。中文注释，包括标点！한국어 주석입니다.',
      'const Москва2024 = "привет, мир"; // Русский комментарий: размер файла',
      '// Ελληνικά: λόγος, ο άνθρωπος, αλφάβητο',
      '// فارسی: می\u200Cخواهم بروم — العربية: مرحبا بالعالم',
      '// हिन्दी: क्\u200Dष, नमस्ते दुनिया; සිංහල',
      '// עברית: שלום עולם',
      '// emoji: 👨\u200D👩\u200D👧 ❤\uFE0F 1\uFE0F\u20E3 👍🏽 🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} 🇫🇷',
      '// Turkish kapı ılık, math: x² + y², 5 µs, 20 °C, ±3 %, a → b, ≤ ≥ ≠, … “quoted” ‘single’ – en dash — em dash',
      '\tif (a && b) { return `${x}\\n`; } // tabs, template literal, backslash-n',
      'sha256-3f2a9c1e5d7b8a0f4c6e2d1b9a8c7e6f5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a',
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    ];
    for (const line of corpus) {
      const d = displayText(`+${line}\r\n`, 'diff');
      assert.deepEqual(d.warnings, [], `${line}: ${d.warnings.map((w) => w.message).join('; ')}`);
      assert.equal(d.text, `+${line}\r\n`);
    }
    // Paths and arguments in other languages are fine too, when no word mixes scripts.
    for (const p of ['/home/zoë/Документы/报告.txt', '/srv/données/été-2024.csv', 'Ελληνικά.md', 'ملف.txt', 'naïve-café', '--message=Grüße aus Köln']) {
      const d = displayString(p, 'path', 'strict');
      assert.deepEqual(d.warnings, [], `${p}: ${d.warnings.map((w) => w.message).join('; ')}`);
      assert.equal(d.text, p);
    }
    assert.deepEqual(displayUrl('https://example.com/a/b?q=1#x', 'url'), { text: 'https://example.com/a/b?q=1#x', warnings: [] });
  });

  it('in a diff, invisible and bidi characters are flagged even inside normal text, with the line they are on (Trojan Source)', () => {
    const d = displayText(' ok\n+if (isAdmin) { \u202E } \u2066// admin only\u2069\n+const x\u200B = 1;\n', 'diff');
    assert.equal(d.text, ' ok\n+if (isAdmin) { \\u{202E} } \\u{2066}// admin only\\u{2069}\n+const x\\u{200B} = 1;\n');
    assert.deepEqual(d.warnings.map((w) => [w.where, w.code, w.kind]), [
      ['diff line 2', 'U+202E', 'bidi'], ['diff line 2', 'U+2066', 'bidi'], ['diff line 2', 'U+2069', 'bidi'], ['diff line 3', 'U+200B', 'invisible'],
    ]);
    // Joiners between Latin letters are not the Persian/Hindi spelling exception; tags not in a flag are smuggled text.
    assert.equal(displayText('ad\u200Dmin', 'diff').text, 'ad\\u{200D}min');
    assert.equal(displayText('hi\u{E0069}\u{E0067}', 'diff').text, 'hi\\u{E0069}\\u{E0067}');
  });

  it('URLs and hosts: IDN hosts are shown as xn-- with how they read decoded; user info before @ is flagged', () => {
    const u = displayUrl('https://ex\u0430mple.com/login', 'url');
    assert.equal(u.text, 'https://xn--exmple-4nf.com/login');
    assert.equal(u.warnings.length, 1);
    assert.equal(u.warnings[0]!.kind, 'idn');
    assert.match(u.warnings[0]!.message, /xn--exmple-4nf\.com is an internationalized domain name.*ex\\u\{0430\}mple\.com/);
    const h = displayHost('xn--80ak6aa92e.com', 'host');
    assert.equal(h.text, 'xn--80ak6aa92e.com');
    assert.match(h.warnings[0]!.message, /internationalized domain name/);
    const at = displayUrl('https://github.com@evil.example/x', 'url');
    assert.equal(at.text, 'https://github.com@evil.example/x');
    assert.match(at.warnings[0]!.message, /user info, not the host; this URL goes to evil\.example/);
    // An unparsable URL is still shown under the strict rule.
    assert.equal(displayUrl('not a url\u202E', 'url').text, 'not a url\\u{202E}');
  });

  it('a literal "\\u{" in the input cannot pass for an escape: its backslash is escaped and flagged', () => {
    const d = displayString('echo \\u{202E}', 'argv[1]', 'strict');
    assert.equal(d.text, `echo ${escapeCodePoint(0x5C)}u{202E}`);
    assert.equal(d.warnings[0]!.kind, 'escape');
    assert.equal(displayString('C:\\Users\\me', 'path', 'strict').text, 'C:\\Users\\me');
  });

  it('approval and egress display forms escape every shown field and gather the warnings of all of them', () => {
    const a = approvalDisplay({
      tool: 'fs.edit', path: '/ws/src/\u202Egnp.js', diff: '--- a\n+++ b\n+x\u200B\n',
      proposer: { model: 'm\u200D', provider: 'p' }, requester: { name: 'Ne\u043Evim', kind: 'editor' },
      workspaceRoot: '/ws', reason: 'rule says ask', rationale: 'fix\u202Ethe bug',
    });
    assert.equal(a.path, '/ws/src/\\u{202E}gnp.js');
    assert.equal(a.diff, '--- a\n+++ b\n+x\\u{200B}\n');
    assert.equal(a.proposer.model, 'm\\u{200D}');
    assert.equal(a.requester.name, 'Ne\\u{043E}vim');
    assert.equal(a.rationale, 'fix\\u{202E}the bug');
    assert.deepEqual(a.warnings.map((w) => w.where), ['proposing model', 'requester name', 'rationale line 1', 'path', 'diff line 3']);
    const args = approvalDisplay({ tool: 'memory.write', args: { text: 'note\u2067' }, text: 'note\u2067', proposer: { model: 'm', provider: 'p' }, requester: { name: 'n', kind: 'mcp' }, workspaceRoot: '/ws', reason: 'r', rationale: null });
    assert.match(args.args!, /note\\u\{2067\}/);
    const e = egressDisplay({ feature: 'completion', provider: 'cloud', host: 'xn--80ak6aa92e.com', url: 'https://xn--80ak6aa92e.com/v1', reason: 'policy says ask', payload: '{"prompt":"a\u202Eb"}' });
    assert.equal(e.payload, '{"prompt":"a\\u{202E}b"}');
    assert.deepEqual(e.warnings.map((w) => [w.where, w.kind]), [['host', 'idn'], ['payload line 1', 'bidi'], ['url host', 'idn']]);
  });

  it('the one text rendering of an approval: title, warnings, fields, the sandbox profile, a shell line quoted for copying', () => {
    const d = approvalDisplay({
      tool: 'shell.run', argv: ['git', 'commit', '-m', "it's \u202Edone"], cwd: '/ws',
      proposer: { model: 'm', provider: 'p' }, requester: { name: 'Neovim', kind: 'editor' },
      workspaceRoot: '/ws', reason: 'rule says ask', rationale: null,
      sandbox: { writable: ['/ws'], network: false, env: ['HOME'], protected: ['/ws/.git/config'] },
    });
    assert.equal(d.lines[0], 'Hearth: approve shell.run?');
    assert.equal(d.warned, 2, 'one headline and one warning');
    assert.match(d.lines[1]!, /^!! WARNING: 1 thing in this request/);
    assert.match(d.lines[2]!, /^!! {3}/);
    assert.ok(d.lines.includes('  sandbox      writes /ws; network none; env HOME'), d.lines.join('\n'));
    assert.ok(d.lines.includes('  !! may write protected entries (run or trusted outside the sandbox): /ws/.git/config'), d.lines.join('\n'));
    assert.ok(d.lines.includes(`$ git commit -m 'it'\\''s \\u{202E}done'`), d.lines.join('\n'));
    assert.ok(d.lines.every((l) => !/[\u202E\u200B\u200D]/.test(l)), 'nothing raw in the rendering');
    const quiet = approvalDisplay({ tool: 'fs.edit', path: '/ws/a.ts', diff: '--- a\n+++ b\n', proposer: { model: 'm', provider: 'p' }, requester: { name: 'n', kind: 'cli' }, workspaceRoot: '/ws', reason: 'r', rationale: null });
    assert.equal(quiet.warned, 0);
    assert.deepEqual(quiet.lines.slice(-3), ['', '--- a', '+++ b']);
    assert.ok(!quiet.lines.some((l) => l.includes('sandbox')), 'no sandbox line without a profile');
  });

  it('warnings are capped: a diff full of hidden characters gives a bounded list ending in a summary', () => {
    const text = Array.from({ length: 200 }, (_, i) => `+line ${i}\u200B`).join('\n');
    const d = displayText(text, 'diff');
    assert.equal(d.warnings.length, 64);
    assert.equal(d.warnings.at(-1)!.kind, 'more');
    assert.match(d.warnings.at(-1)!.message, /^137 more warnings/);
    assert.doesNotMatch(d.text, /\u200B/);
  });
});
