// Every piece of advice the CLI and the daemon print names a command that exists (issue 13, must
// show 4). Collects each backticked `hearth …` command in the user-facing strings of server/ and
// core/ (\`hearth x\` inside template literals, `hearth x` inside quoted strings; comments are not
// messages), then checks against the real CLI: `bin/hearth CMD --help` exits 0 for the command,
// and its usage entry names the subcommand and any --option the advice uses.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HEARTH_BIN, ROOT } from '../helpers/daemon.js';

interface Advice { command: string; file: string; line: number }

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Quote characters before `at` on the line, outside template literals: odd means inside a string. */
function insideQuotedString(line: string, at: number): boolean {
  const before = line.slice(0, at);
  return (before.split("'").length - 1) % 2 === 1 || (before.split('"').length - 1) % 2 === 1;
}

export function collectAdvice(): Advice[] {
  const found: Advice[] = [];
  for (const file of [...sourceFiles(path.join(ROOT, 'server')), ...sourceFiles(path.join(ROOT, 'core'))]) {
    fs.readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
      const t = text.trim();
      if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) return;
      const rel = path.relative(ROOT, file);
      for (const m of text.matchAll(/\\`(hearth [a-z][^`\\]*)\\`/g)) found.push({ command: m[1]!, file: rel, line: i + 1 });
      for (const m of text.matchAll(/(?<!\\)`(hearth [a-z][a-z-]*[^`]*)`/g)) {
        if (insideQuotedString(text, m.index!)) found.push({ command: m[1]!, file: rel, line: i + 1 });
      }
    });
  }
  return found;
}

describe('every command the CLI and the daemon advise exists', function () {
  this.timeout(120_000);
  const advice = collectAdvice();
  const helpCache = new Map<string, { code: number | null; text: string }>();
  const help = (cmd: string): { code: number | null; text: string } => {
    if (!helpCache.has(cmd)) {
      const r = spawnSync(process.execPath, [HEARTH_BIN, cmd, '--help'], { encoding: 'utf8', timeout: 30_000 });
      helpCache.set(cmd, { code: r.status, text: r.stdout + r.stderr });
    }
    return helpCache.get(cmd)!;
  };

  it('finds the advice (the scan itself works)', () => {
    const commands = new Set(advice.map((a) => a.command));
    for (const expected of ['hearth store recover', 'hearth stop', 'hearth start', 'hearth doctor']) {
      assert.ok(commands.has(expected), `the scan did not find \`${expected}\`; found: ${[...commands].join(', ')}`);
    }
    assert.ok(advice.length > 30, `only ${advice.length} pieces of advice found`);
  });

  it('each advised command, subcommand and option is in that command\'s usage (`hearth CMD --help`)', () => {
    const problems: string[] = [];
    for (const a of advice) {
      const words = a.command.trim().split(/\s+/);
      const cmd = words[1]!;
      const h = help(cmd);
      const where = `${a.file}:${a.line} advises \`${a.command}\``;
      if (h.code !== 0) {
        problems.push(`${where}: \`hearth ${cmd} --help\` exits ${h.code} (${h.text.split('\n')[0]})`);
        continue;
      }
      const sub = words[2];
      if (sub && /^[a-z][a-z|-]*$/.test(sub)) {
        for (const s of sub.split('|').filter(Boolean)) {
          if (!new RegExp(`(^|[\\s|\\[])${s}([\\s|\\]]|$)`, 'm').test(h.text)) problems.push(`${where}: "${cmd} ${s}" is not in its usage:\n${h.text}`);
        }
      }
      for (const opt of words.filter((w) => /^--[a-z][a-z-]*$/.test(w))) {
        if (!h.text.includes(opt)) problems.push(`${where}: ${opt} is not in the usage of hearth ${cmd}:\n${h.text}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
