// Secret redaction for anything that may leave the machine.
//
// Two detectors run over every text, and every span either finds is replaced:
//  - secretlint's maintained recommended preset (AWS, GCP, GitHub, Slack, private keys, basic
//    auth, database URLs, ...), through its own core, with its AWS access key ID scan turned on
//    (a redacted false positive costs a model a few characters, a leak costs a key);
//  - Hearth's own rules (secret-rules.ts), which cover every kind in docs/redaction.md by
//    themselves: known-format tokens secretlint lacks (Google API keys, JWTs, Azure, Discord,
//    Twilio, ...), secret-named values in any code/config/env syntax, userinfo of URLs of any
//    scheme, connection strings, and private key material whether or not the text holds the
//    block's BEGIN and END lines.
// Whole files on deny-listed paths (.env, *.pem, ...) and credential files recognised by their
// content are replaced outright by the router.
import { lintSource } from '@secretlint/core';
import { creator as recommendedPreset } from '@secretlint/secretlint-rule-preset-recommend';
import { secretLintProfiler } from '@secretlint/profiler';
import type { SecretLintCoreConfig } from '@secretlint/types';
import { ownSpans, type Span } from './secret-rules.js';

export { keyMaterialRanges, privateKeyBlocks, sensitiveDocument } from './secret-rules.js';

// secretlint's profiler is on by default and keeps every performance mark it makes (several per
// rule per scan) for the life of the process: a leak in a daemon, and GC pauses in the hot path.
// secretlint 12 (the last release whose engines allow Node 20) has no switch for it, so the
// shared profiler's mark() becomes a no-op: no marks, so its observer never fires or stores.
secretLintProfiler.mark = (): void => undefined;

export interface RedactionCount {
  rule: string;
  count: number;
}
export interface RedactionResult {
  text: string;
  /** Per rule, how many spans were replaced. Empty when nothing was found. */
  redactions: RedactionCount[];
  count: number;
}

export const REDACTION_MARKER = (rule: string): string => `[REDACTED:${rule}]`;

const PRESET_ID = '@secretlint/secretlint-rule-preset-recommend';
const SECRETLINT_CONFIG: SecretLintCoreConfig = {
  rules: [
    {
      id: PRESET_ID,
      rule: recommendedPreset,
      rules: [
        { id: '@secretlint/secretlint-rule-aws', options: { enableIDScanRule: true } },
        // `secretlint-disable` comments in a file must not switch redaction off.
        { id: '@secretlint/secretlint-rule-filter-comments', disabled: true },
      ],
    },
  ],
};

function kebab(id: string): string {
  return id
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[_\s]+/g, '-')
    .toLowerCase();
}

function ruleName(ruleId: string, messageId: string | undefined): string {
  if (messageId) return kebab(messageId);
  return ruleId.replace(/^@secretlint\/secretlint-rule-/, '');
}


function applySpans(text: string, spans: Span[]): RedactionResult {
  if (!spans.length) return { text, redactions: [], count: 0 };
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s.start < last.end) {
      if (s.end > last.end) last.end = s.end;
    } else merged.push({ ...s });
  }
  const counts = new Map<string, number>();
  let out = '';
  let at = 0;
  for (const s of merged) {
    out += text.slice(at, s.start) + REDACTION_MARKER(s.rule);
    at = s.end;
    counts.set(s.rule, (counts.get(s.rule) ?? 0) + 1);
  }
  out += text.slice(at);
  const redactions = [...counts].map(([rule, count]) => ({ rule, count }));
  return { text: out, redactions, count: merged.length };
}

/** Find secrets in `text` and replace each with `[REDACTED:<rule>]`. */
export async function redactText(text: string, opts: { path?: string } = {}): Promise<RedactionResult> {
  return (await redactTexts([{ text, ...opts }]))[0]!;
}

/**
 * Redact several texts with ONE secretlint pass over them joined by newlines (its per-call setup
 * of ~30 rules costs more than scanning a few KB, so one pass over a 32 KB context is what keeps
 * route planning within its budget). Hearth's own rules run per text, so a key block cut off at
 * the end of one text never swallows the next. `secretlint: false` runs Hearth's rules alone (the
 * tests use it to show they cover every kind without secretlint).
 */
export async function redactTexts(items: readonly { text: string; path?: string }[], opts: { secretlint?: boolean } = {}): Promise<RedactionResult[]> {
  const starts: number[] = [];
  let at = 0;
  for (const it of items) {
    starts.push(at);
    at += it.text.length + 1;
  }
  const joined = items.map((i) => i.text).join('\n');
  const perItem: Span[][] = items.map(() => []);
  if (opts.secretlint !== false && joined.trim()) {
    const path = items.find((i) => i.path)?.path;
    const ext = path ? (/\.[^./\\]+$/.exec(path)?.[0] ?? '') : '';
    const result = await lintSource({
      source: { content: joined, filePath: path ?? 'hearth-context.txt', ext, contentType: 'text' },
      options: { config: SECRETLINT_CONFIG, noPhysicFilePath: true, maskSecrets: true },
    });
    for (const m of result.messages) {
      const [s0, e0] = m.range;
      if (e0 <= s0) continue;
      const rule = ruleName(m.ruleId, m.messageId);
      // Give the span to every text it overlaps, clamped to that text.
      items.forEach((it, i) => {
        const a = starts[i]!;
        const b = a + it.text.length;
        const s = Math.max(s0, a);
        const e = Math.min(e0, b);
        if (e > s) perItem[i]!.push({ start: s - a, end: e - a, rule });
      });
    }
  }
  // After secretlint's spans, so that where both find the same secret its name wins.
  return items.map((it, i) => {
    const spans = perItem[i]!;
    if (it.text) spans.push(...ownSpans(it.text));
    return applySpans(it.text, spans);
  });
}

/** Replace a whole text (a deny-listed file) with one marker. */
export function redactWhole(text: string, rule = 'deny-listed-path'): RedactionResult {
  if (!text) return { text, redactions: [], count: 0 };
  return { text: REDACTION_MARKER(rule), redactions: [{ rule, count: 1 }], count: 1 };
}

/**
 * Redact every string inside a JSON value (a request body), returning the new value and counts.
 * Keys are left alone; only values carry user data. All strings are scanned in one pass.
 */
export async function redactJson(value: unknown, extra?: (s: string) => RedactionResult | null): Promise<{ value: unknown; redactions: RedactionCount[]; count: number }> {
  const totals = new Map<string, number>();
  const add = (rs: RedactionCount[]) => {
    for (const r of rs) totals.set(r.rule, (totals.get(r.rule) ?? 0) + r.count);
  };
  const leaves: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') {
      let s = v;
      const pre = extra?.(s);
      if (pre && pre.count) {
        s = pre.text;
        add(pre.redactions);
      }
      leaves.push(s);
    } else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(value);
  const results = await redactTexts(leaves.map((text) => ({ text })));
  for (const r of results) add(r.redactions);
  let i = 0;
  const rebuild = (v: unknown): unknown => {
    if (typeof v === 'string') return results[i++]!.text;
    if (Array.isArray(v)) return v.map(rebuild);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = rebuild(x);
      return out;
    }
    return v;
  };
  const out = rebuild(value);
  const redactions = [...totals].map(([rule, count]) => ({ rule, count }));
  return { value: out, redactions, count: redactions.reduce((a, r) => a + r.count, 0) };
}

/** Replace every occurrence of known secret texts (e.g. deny-listed file contents) in `s`. */
export function redactKnown(s: string, secrets: readonly string[], rule = 'deny-listed-path'): RedactionResult | null {
  const spans: Span[] = [];
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    let i = s.indexOf(secret);
    while (i !== -1) {
      spans.push({ start: i, end: i + secret.length, rule });
      i = s.indexOf(secret, i + secret.length);
    }
  }
  return spans.length ? applySpans(s, spans) : null;
}
