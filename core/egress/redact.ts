// Secret redaction for anything that may leave the machine.
//
// The main rule set is secretlint's maintained recommended preset (AWS, GCP, GitHub, GitLab,
// Slack, Stripe, OpenAI, Anthropic, npm, private keys, basic auth, database URLs, ...), run through
// its own core. Three gaps of that preset for our use are filled by a few patterns here:
//  - it only reports a private key block that has its END line and a 100+ character body; a
//    completion prefix is often cut in the middle of a block, so any BEGIN ... PRIVATE KEY up to
//    its END (or the end of the text) is redacted;
//  - it has no generic rule for `API_TOKEN=...` / `"password": "..."` style assignments (the
//    shape of `.env` files and config), nor for `Authorization: Bearer ...` values;
//  - its AWS access key ID scan is off by default (a linter's false-positive trade-off); we turn
//    it on, since a redacted false positive costs a model a few characters, a leak costs a key.
// Whole files on deny-listed paths (.env, *.pem, ...) are replaced outright by the router.
import { lintSource } from '@secretlint/core';
import { creator as recommendedPreset } from '@secretlint/secretlint-rule-preset-recommend';
import type { SecretLintCoreConfig } from '@secretlint/types';

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

interface Pattern {
  rule: string;
  re: RegExp;
  /** Which capture group is the secret (0: the whole match). */
  group: number;
}

const PATTERNS: Pattern[] = [
  {
    rule: 'private-key',
    re: /-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$(?![\s\S]))/dg,
    group: 0,
  },
  {
    rule: 'env-secret',
    re: /^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_]*(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD|PWD|CREDENTIALS?|AUTH)[A-Za-z0-9_]*[ \t]*=[ \t]*(?!\[REDACTED:)(\S[^\r\n]*)$/dgim,
    group: 1,
  },
  {
    rule: 'generic-secret',
    re: /(?:api[_-]?key|secret|token|passw(?:or)?d|credentials?)[A-Za-z0-9_-]*["']?\s*[:=]\s*["'`](?!\[REDACTED:)([^"'`\s]{8,})["'`]/dgi,
    group: 1,
  },
  { rule: 'bearer-token', re: /\bBearer[ \t]+([A-Za-z0-9._~+/-]{16,}=*)/dg, group: 1 },
];

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

interface Span {
  start: number;
  end: number;
  rule: string;
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
  if (!text) return { text, redactions: [], count: 0 };
  const spans: Span[] = [];
  const ext = opts.path ? (/\.[^./\\]+$/.exec(opts.path)?.[0] ?? '') : '';
  const result = await lintSource({
    source: { content: text, filePath: opts.path ?? 'hearth-context.txt', ext, contentType: 'text' },
    options: { config: SECRETLINT_CONFIG, noPhysicFilePath: true, maskSecrets: true },
  });
  for (const m of result.messages) {
    const [start, end] = m.range;
    if (end > start) spans.push({ start, end, rule: ruleName(m.ruleId, m.messageId) });
  }
  // After secretlint's spans, so that where both find the same secret its more specific name wins.
  for (const p of PATTERNS) {
    for (const m of text.matchAll(p.re)) {
      const ix = m.indices?.[p.group];
      if (ix && ix[1] > ix[0]) spans.push({ start: ix[0], end: ix[1], rule: p.rule });
    }
  }
  return applySpans(text, spans);
}

/** Replace a whole text (a deny-listed file) with one marker. */
export function redactWhole(text: string, rule = 'deny-listed-path'): RedactionResult {
  if (!text) return { text, redactions: [], count: 0 };
  return { text: REDACTION_MARKER(rule), redactions: [{ rule, count: 1 }], count: 1 };
}

/**
 * Redact every string inside a JSON value (a request body), returning the new value and counts.
 * Keys are left alone; only values carry user data.
 */
export async function redactJson(value: unknown, extra?: (s: string) => RedactionResult | null): Promise<{ value: unknown; redactions: RedactionCount[]; count: number }> {
  const totals = new Map<string, number>();
  const visit = async (v: unknown): Promise<unknown> => {
    if (typeof v === 'string') {
      let s = v;
      const pre = extra?.(s);
      if (pre && pre.count) {
        s = pre.text;
        for (const r of pre.redactions) totals.set(r.rule, (totals.get(r.rule) ?? 0) + r.count);
      }
      if (s.length < 8) return s;
      const r = await redactText(s);
      for (const c of r.redactions) totals.set(c.rule, (totals.get(c.rule) ?? 0) + c.count);
      return r.text;
    }
    if (Array.isArray(v)) return Promise.all(v.map(visit));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = await visit(x);
      return out;
    }
    return v;
  };
  const out = await visit(value);
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
