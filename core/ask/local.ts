// The embedded default answer to an ask when no chat model can run it (none configured, policy
// denies every one, or the one routed to was declined or failed): retrieval, not generation. The
// lines of the context files and of the workspace that share the most words with the question,
// and the best memory items, each with where it came from, under a label that says plainly that
// no model answered and how to add one. Nothing here leaves the machine.
import fs from 'node:fs';
import path from 'node:path';

export interface LocalSource {
  /** Shown to the user: a workspace-relative path, a URI, or memory:ID. */
  label: string;
  text: string;
}

export interface LocalMemoryHit {
  id: string;
  text: string;
  client: string;
}

export interface LocalAnswerInput {
  prompt: string;
  /** Why no model answered, in a few words (the route plan's reason, a decline). */
  why: string;
  /** Context the client gave (selection, files, open buffers), searched first. */
  sources: readonly LocalSource[];
  memory: readonly LocalMemoryHit[];
  /** Walked (bounded) for more matching lines; null: no workspace. */
  workspaceRoot: string | null;
  /** Paths never read (the policy's deny list: .env, keys). */
  denied?: (absPath: string, relPath: string) => boolean;
  /** Bounds of the workspace walk (defaults below). */
  maxFiles?: number;
  maxFileBytes?: number;
  budgetMs?: number;
  /** The user policy file to name in the advice (default ~/.config/hearth/policy.yaml). */
  policyFile?: string;
}

const STOP = new Set(('the a an and or of to in on for is are was be this that it with as at by from what where which how why who does do '
  + 'can could should would will my our your me we you i not no yes there here about into than then them they its has have had').split(' '));
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', 'out', 'target', 'vendor', '__pycache__', 'coverage']);
const MAX_LINE = 200;
const LINES_SHOWN = 8;

/** The words of a question worth looking for: lower-case, 3+ characters, no stop words. */
export function questionTerms(prompt: string): string[] {
  const out = new Set<string>();
  for (const m of prompt.toLowerCase().matchAll(/[\p{L}\p{N}_]+/gu)) {
    const w = m[0];
    if (w.length >= 3 && !STOP.has(w)) out.add(w);
    if (out.size >= 16) break;
  }
  return [...out];
}

interface Hit { label: string; line: number; text: string; score: number; order: number }

function scoreLines(label: string, text: string, terms: readonly string[], order: number, into: Hit[]): void {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lower = lines[i]!.toLowerCase();
    let score = 0;
    for (const t of terms) if (lower.includes(t)) score++;
    if (score > 0) into.push({ label, line: i + 1, text: lines[i]!.trim(), score, order });
  }
}

/** Text files under root, breadth first, hidden and build folders skipped, within the bounds. */
function* workspaceFiles(root: string, maxFiles: number, deadline: number): Generator<string> {
  const queue = [root];
  let n = 0;
  while (queue.length && n < maxFiles && Date.now() < deadline) {
    const dir = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) queue.push(abs);
      } else if (e.isFile()) {
        n++;
        yield abs;
        if (n >= maxFiles) return;
      }
    }
  }
}

function readText(abs: string, maxBytes: number): string | null {
  try {
    const st = fs.statSync(abs);
    if (st.size > maxBytes) return null;
    const buf = fs.readFileSync(abs);
    if (buf.subarray(0, 1024).includes(0)) return null; // binary
    return buf.toString('utf8');
  } catch {
    return null;
  }
}

const clip = (s: string): string => (s.length > MAX_LINE ? `${s.slice(0, MAX_LINE)}…` : s);

/** The labelled local answer (Markdown-ish plain text, readable in a terminal, a buffer or a webview). */
export function localAnswer(input: LocalAnswerInput): string {
  const terms = questionTerms(input.prompt);
  const hits: Hit[] = [];
  const seen = new Set<string>();
  input.sources.forEach((s, i) => {
    seen.add(s.label);
    scoreLines(s.label, s.text, terms, i, hits);
  });
  if (input.workspaceRoot && terms.length) {
    const deadline = Date.now() + (input.budgetMs ?? 1500);
    let order = input.sources.length;
    for (const abs of workspaceFiles(input.workspaceRoot, input.maxFiles ?? 2000, deadline)) {
      const rel = path.relative(input.workspaceRoot, abs);
      if (seen.has(rel) || seen.has(abs) || input.denied?.(abs, rel)) continue;
      const text = readText(abs, input.maxFileBytes ?? 256 * 1024);
      if (text !== null) scoreLines(rel, text, terms, order++, hits);
    }
  }
  // Most words in common first; among equals, the context the user gave before the rest.
  hits.sort((a, b) => b.score - a.score || a.order - b.order || a.line - b.line);
  const lines: string[] = [
    `No chat model answered this (${input.why}), so nothing was sent anywhere: here is what Hearth found locally.`,
    '',
  ];
  if (input.memory.length) {
    lines.push('From memory:');
    for (const m of input.memory) lines.push(`  memory:${m.id} (${m.client}): ${clip(m.text.replace(/\s+/g, ' ').trim())}`);
    lines.push('');
  }
  const shown = hits.slice(0, LINES_SHOWN);
  if (shown.length) {
    lines.push(`Lines sharing words with your question (${terms.join(', ')}):`);
    for (const h of shown) lines.push(`  ${h.label}:${h.line}: ${clip(h.text)}`);
    lines.push('');
  }
  if (!input.memory.length && !shown.length) {
    lines.push(terms.length ? `Nothing in memory, the context or the workspace mentions ${terms.join(', ')}.` : 'The question has no words to look for.', '');
  }
  lines.push(
    'To get answers from a model, add a local chat model: run an OpenAI-compatible server on this machine (Ollama with',
    '`ollama pull qwen2.5-coder:1.5b`, or llama-server with a GGUF file) and name it under `providers:` in',
    `${input.policyFile ?? '~/.config/hearth/policy.yaml'} with \`features: [chat, task]\`; \`hearth policy check\` validates the file (docs/ask.md).`,
  );
  return lines.join('\n');
}
