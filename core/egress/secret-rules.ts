// Hearth's own secret detectors, run beside secretlint's recommended preset (see redact.ts). They
// cover, by themselves, every kind docs/redaction.md lists, so redaction does not depend on which
// secretlint release is installed:
//  - known-format tokens (cloud keys, PATs, webhooks, JWTs, ...), each a regex behind a cheap
//    literal prefilter so a 32 KB context costs a few index scans per rule;
//  - secret-named assignments in code, config and env syntaxes (`export X=`, YAML, TOML, INI,
//    JSON, .properties, connection strings, query strings, CLI flags, XML), found line by line
//    from a keyword hit and kept only when the value looks like a literal secret, not code;
//  - userinfo of a URL of any scheme;
//  - private key material: whole blocks, a block cut by the end of the text, a block whose BEGIN
//    lies before the start of the text, and key-body lines with no header at all.
// Precision is part of the contract: hashes, git SHAs, lockfile integrity strings, UUIDs, base64
// images, minified code and identifiers pass through (test/integration/redaction-corpus.test.ts).

export interface Span {
  start: number;
  end: number;
  rule: string;
}

const MARKER_PREFIX = '[REDACTED:';

// ---------------------------------------------------------------------------------------------
// Known-format tokens

interface TokenRule {
  rule: string;
  re: RegExp;
  /** Capture group holding the secret (0: the whole match). */
  group?: number;
  /** At least one of these must occur in the text (case-sensitive) for the regex to run. */
  hints: readonly string[];
  /** Extra check on the secret text. */
  ok?: (s: string) => boolean;
}

const B = String.raw`(?<![A-Za-z0-9_])`; // start boundary that also treats `_` as a word char
const E = String.raw`(?![A-Za-z0-9_])`;
const rx = (src: string, flags = 'g'): RegExp => new RegExp(src, `${flags}d`);

/**
 * Mixed character classes as a random token has them and a word or an identifier does not:
 * letters with 2+ digits, or both cases with the upper case not just at word starts.
 */
export function randomLooking(s: string): boolean {
  let up = 0;
  let low = 0;
  let dig = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) up++;
    else if (c >= 97 && c <= 122) low++;
    else if (c >= 48 && c <= 57) dig++;
  }
  const letters = up + low;
  if (dig >= 2 && letters >= 2) return true;
  return up >= 2 && low >= 2 && up / letters >= 0.2 && up / letters <= 0.8;
}

const b64decode = (s: string): string => Buffer.from(s, 'base64').toString('latin1');

export const TOKEN_RULES: readonly TokenRule[] = [
  { rule: 'google-api-key', re: rx(`${B}AIza[0-9A-Za-z_-]{35}${E}`), hints: ['AIza'] },
  { rule: 'google-oauth-secret', re: rx(`${B}GOCSPX-[0-9A-Za-z_-]{28}`), hints: ['GOCSPX-'] },
  { rule: 'google-oauth-token', re: rx(`${B}(?:ya29\\.[0-9A-Za-z_-]{20,}|1//0[0-9A-Za-z_-]{30,})`), hints: ['ya29.', '1//0'] },
  { rule: 'jwt', re: rx(`${B}eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}(?:\\.[A-Za-z0-9_-]*)?`), hints: ['eyJ'] },
  { rule: 'github-token', re: rx(`${B}(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})`), hints: ['gh', 'github_pat_'] },
  { rule: 'gitlab-token', re: rx(`${B}(?:gl(?:pat|dt|rt|ptt|soat|cbt|ft|imt|agent|oas|ffct|wt|cc)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})`), hints: ['gl', 'GR1348941'] },
  { rule: 'slack-token', re: rx(`${B}(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\\d-[A-Za-z0-9-]{20,})`), hints: ['xox', 'xapp-'] },
  { rule: 'slack-webhook', re: rx(`hooks\\.slack\\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_-]{16,})`), group: 1, hints: ['hooks.slack.com'] },
  { rule: 'discord-webhook', re: rx(`discord(?:app)?\\.com/api/webhooks/(\\d{5,}/[A-Za-z0-9_-]{20,})`), group: 1, hints: ['discord'] },
  { rule: 'teams-webhook', re: rx(`\\.webhook\\.office\\.com/(webhookb2/[A-Za-z0-9@/_-]{20,})`), group: 1, hints: ['webhook.office.com'] },
  { rule: 'discord-bot-token', re: rx(`${B}[MNO][A-Za-z0-9_-]{23,27}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,40}${E}`), hints: ['.'], ok: (s) => /^\d{15,22}$/.test(b64decode(s.slice(0, s.indexOf('.')))) },
  { rule: 'stripe-key', re: rx(`${B}(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})`), hints: ['_live_', '_test_', 'whsec_'] },
  { rule: 'anthropic-api-key', re: rx(`${B}sk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_-]{32,}`), hints: ['sk-ant-'] },
  { rule: 'openai-api-key', re: rx(`${B}sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32,}`), hints: ['sk-'], ok: randomLooking },
  { rule: 'npm-token', re: rx(`${B}npm_[A-Za-z0-9]{36}${E}`), hints: ['npm_'] },
  { rule: 'aws-access-key-id', re: rx(`${B}(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}${E}`), hints: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'AGPA', 'AIDA', 'AROA', 'AIPA', 'ANPA', 'ANVA', 'APKA'] },
  { rule: 'azure-ad-client-secret', re: rx(`${B}[A-Za-z0-9_~.-]{3}\\dQ~[A-Za-z0-9_~.-]{31,34}${E}`), hints: ['Q~'] },
  { rule: 'azure-sas-signature', re: rx(`[?&]sig=([A-Za-z0-9%+/=]{20,})`), group: 1, hints: ['sig='] },
  { rule: 'twilio-api-key', re: rx(`${B}SK[0-9a-fA-F]{32}${E}`), hints: ['SK'] },
  { rule: 'sendgrid-api-key', re: rx(`${B}SG\\.[A-Za-z0-9_-]{16,32}\\.[A-Za-z0-9_-]{30,64}`), hints: ['SG.'] },
  { rule: 'mailgun-api-key', re: rx(`${B}key-[0-9a-zA-Z]{32}${E}`), hints: ['key-'] },
  { rule: 'mailchimp-api-key', re: rx(`${B}[0-9a-f]{32}-us\\d{1,2}${E}`), hints: ['-us'] },
  { rule: 'shopify-token', re: rx(`${B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}${E}`), hints: ['shp'] },
  { rule: 'huggingface-token', re: rx(`${B}hf_[A-Za-z0-9]{30,}${E}`), hints: ['hf_'], ok: randomLooking },
  { rule: 'digitalocean-token', re: rx(`${B}do[opr]_v1_[a-f0-9]{64}${E}`), hints: ['_v1_'] },
  { rule: 'pypi-token', re: rx(`${B}pypi-AgE[A-Za-z0-9_-]{50,}`), hints: ['pypi-'] },
  { rule: 'databricks-token', re: rx(`${B}dapi[a-f0-9]{32}(?:-\\d)?${E}`), hints: ['dapi'] },
  { rule: 'atlassian-token', re: rx(`${B}ATATT3[A-Za-z0-9_=-]{60,}`), hints: ['ATATT3'] },
  { rule: 'linear-api-key', re: rx(`${B}lin_(?:api|oauth)_[A-Za-z0-9]{32,}`), hints: ['lin_'] },
  { rule: 'doppler-token', re: rx(`${B}dp\\.(?:pt|st|ct|sa|scim|audit)\\.[A-Za-z0-9]{40,}`), hints: ['dp.'] },
  { rule: 'vault-token', re: rx(`${B}hv[sbr]\\.[A-Za-z0-9_-]{24,}`), hints: ['hvs.', 'hvb.', 'hvr.'] },
  { rule: 'grafana-token', re: rx(`${B}(?:glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})`), hints: ['glsa_', 'glc_'] },
  { rule: 'telegram-bot-token', re: rx(`${B}\\d{8,10}:AA[A-Za-z0-9_-]{33}${E}`), hints: [':AA'] },
  { rule: 'postman-api-key', re: rx(`${B}PMAK-[a-f0-9]{24}-[a-f0-9]{34}`), hints: ['PMAK-'] },
  { rule: 'age-secret-key', re: rx(`${B}AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`), hints: ['AGE-SECRET-KEY-'] },
  { rule: 'square-token', re: rx(`${B}(?:sq0atp|sq0csp|EAAA)[A-Za-z0-9_-]{22,}`), hints: ['sq0', 'EAAA'] },
  { rule: 'notion-token', re: rx(`${B}(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,})${E}`), hints: ['secret_', 'ntn_'] },
  { rule: 'vercel-token', re: rx(`${B}(?:vc[pika]_|vercel_)[A-Za-z0-9]{24,}`), hints: ['vc', 'vercel_'] },
  { rule: 'figma-token', re: rx(`${B}figd_[A-Za-z0-9_-]{40,}`), hints: ['figd_'] },
  { rule: 'groq-api-key', re: rx(`${B}gsk_[A-Za-z0-9]{48,}`), hints: ['gsk_'] },
  { rule: 'onepassword-token', re: rx(`${B}ops_eyJ[A-Za-z0-9+/=_-]{40,}`), hints: ['ops_'] },
  { rule: 'basic-auth-header', re: rx(`${B}Basic[ \\t]+([A-Za-z0-9+/]{12,}={0,2})(?![A-Za-z0-9+/=])`), group: 1, hints: ['Basic'], ok: (s) => /^[\x21-\x7e]+:[\x20-\x7e]+$/.test(b64decode(s)) },
  { rule: 'bearer-token', re: rx(`${B}(?:Bearer|Token|token)[ \\t]+([A-Za-z0-9._~+/-]{16,}=*)`), group: 1, hints: ['Bearer', 'oken'], ok: randomLooking },
  { rule: 'curl-user-password', re: rx(`(?:^|\\s)(?:-u|--user)[ \\t=]+["']?[^:\\s"']+:([^\\s"']{4,})`, 'gm'), group: 1, hints: ['-u', '--user'] },
];

// Each rule runs only where one of its literal hints occurs (an includes() per hint is cheaper
// than a combined alternation or a scan for token-shaped runs, measured on a 32 KB context).
function tokenSpans(text: string, out: Span[]): void {
  for (const t of TOKEN_RULES) {
    if (!t.hints.some((h) => text.includes(h))) continue;
    t.re.lastIndex = 0;
    for (const m of text.matchAll(t.re)) {
      const ix = m.indices?.[t.group ?? 0];
      if (!ix || ix[1] <= ix[0]) continue;
      const s = text.slice(ix[0], ix[1]);
      if (s.startsWith(MARKER_PREFIX) || (t.ok && !t.ok(s))) continue;
      out.push({ start: ix[0], end: ix[1], rule: t.rule });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// URLs with userinfo (any scheme: redis://, amqps://, mongodb+srv://, ftp://, https://, ...)

// The password may hold `#`, `?` or `:` written unencoded: it runs to the last `@` before the host.
export const URL_USERINFO = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/([^\s:/?#@'"`<>\\]*):([^\s/@'"`<>\\]+)@(?=[^\s@/]*[A-Za-z0-9\]])/dg;
export const URL_TOKEN_USER = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/([A-Za-z0-9_.~-]{20,})@/dg;

const URL_USERINFO_AT = new RegExp(URL_USERINFO.source, 'dy');
const URL_TOKEN_USER_AT = new RegExp(URL_TOKEN_USER.source, 'dy');

/**
 * What `text.matchAll(re)` gives for these URL regexes, found by trying the sticky `at` only at the
 * 2-31 positions before each `://` where a scheme can start (the scheme class holds neither `:` nor
 * `/`, so a match's `://` is the first after its start). A regex tried at every letter of a 32 KB
 * context cost a third of the redaction of a request body.
 */
export function schemeMatches(text: string, at: RegExp): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  let from = 0; // matches do not overlap: the next one starts at or after the last one's end
  for (let p = text.indexOf('://'); p !== -1; p = text.indexOf('://', p + 1)) {
    for (let s = Math.max(from, p - 31); s <= p - 2; s++) {
      at.lastIndex = s;
      const m = at.exec(text);
      if (m) {
        out.push(m);
        from = at.lastIndex;
        break;
      }
    }
  }
  return out;
}

function urlSpans(text: string, out: Span[]): void {
  if (!text.includes('://')) return;
  for (const m of schemeMatches(text, URL_USERINFO_AT)) {
    const ix = m.indices![2]!;
    if (text.startsWith(MARKER_PREFIX, ix[0]) || /^\$\{?[A-Za-z_]|^\{\{|^%\(|^<[a-z-]+>$/i.test(m[2]!)) continue;
    out.push({ start: ix[0], end: ix[1], rule: 'url-password' });
  }
  for (const m of schemeMatches(text, URL_TOKEN_USER_AT)) {
    const ix = m.indices![1]!;
    if (randomLooking(m[1]!)) out.push({ start: ix[0], end: ix[1], rule: 'url-token' });
  }
}

// ---------------------------------------------------------------------------------------------
// Secret-named assignments

// A keyword hit sends its line to the assignment parser.
const KEYWORDS = /secret|passw|passphrase|pwd|pass|token|key|auth|credential|salt|sig|dsn|cookie|conn/gi;

// [1] leading dashes (a CLI flag), [2] the name, [3] a closing quote/bracket, [4] the separator.
const NAME_SEP = /(?<![\w$@.-])(--?)?([A-Za-z_$@][\w$@.-]*)(["'`]?\]?)[ \t]*(:=|=>|=|:(?![:/])|[ \t](?=\S))[ \t]*/g;

const STRONG = new Set(['secret', 'secrets', 'password', 'passwd', 'pwd', 'passphrase', 'pass', 'passcode', 'token', 'apikey', 'credential', 'credentials', 'pat', 'sas', 'jwt', 'bearer', 'secretkey', 'privatekey', 'accesskey', 'accountkey', 'authkey', 'clientsecret', 'sessionkey', 'masterkey', 'encryptionkey', 'signingkey', 'webhooksecret', 'refreshtoken', 'accesstoken', 'authtoken', 'apitoken', 'apisecret', 'dbpass', 'dbpassword', 'cookie', 'connectionstring', 'connstr', 'dsn', 'pin']);
const STRONG_PAIRS = new Set(['api key', 'access key', 'private key', 'secret key', 'auth key', 'signing key', 'account key', 'client key', 'master key', 'encryption key', 'app key', 'license key', 'session key', 'shared key', 'service key', 'admin key', 'deploy key', 'webhook key', 'connection string', 'conn str', 'key base', 'access signature', 'shared secret']);
const WEAK = new Set(['key', 'auth', 'sig', 'signature', 'salt', 'pw', 'hmac', 'otp', 'seed', 'nonce']);
/** Words that make a name not a secret wherever they stand. */
const NEVER = new Set(['public', 'publishable', 'primary', 'foreign', 'sort', 'partition', 'cache', 'hash', 'hashed', 'digest', 'fingerprint', 'checksum', 'integrity', 'tokenizer', 'tokens', 'keys', 'keyboard', 'keycode', 'keydown', 'keyup', 'keypress', 'keyframe', 'keyframes', 'keyword', 'keywords', 'hotkey', 'monkey', 'turkey', 'hockey', 'donkey', 'passport', 'passthrough', 'bypass', 'compass', 'secretary', 'secretariat', 'tokenize', 'tokenized', 'tokenization', 'detokenize', 'placeholder', 'max', 'min']);
/** Words that, last in a name, say it names something about a secret, not the secret (tokenUrl, KEY_FILE). */
const NOT_LAST = new Set(['name', 'names', 'type', 'types', 'url', 'uri', 'endpoint', 'path', 'file', 'files', 'dir', 'env', 'var', 'field', 'label', 'header', 'prefix', 'suffix', 'expiry', 'expires', 'expiration', 'ttl', 'format', 'mode', 'hint', 'pattern', 'regex', 'validation', 'required', 'enabled', 'policy', 'index', 'column', 'kind', 'usage', 'id', 'ids', 'length', 'len', 'count', 'size', 'limit', 'style', 'class', 'icon', 'message', 'error', 'title', 'text', 'description', 'help', 'strength', 'rules', 'algorithm', 'algo', 'version', 'lifetime', 'duration', 'timeout', 'issuer', 'audience', 'scope', 'scopes', 'spec', 'schema', 'input', 'button', 'dialog', 'form', 'source', 'provider', 'method', 'flow', 'state', 'status', 'level', 'ref', 'store', 'storage', 'manager', 'service', 'handler', 'helper', 'client', 'module', 'util', 'utils', 'parser', 'generator', 'validator', 'encoder', 'decoder', 'location', 'length', 'changed', 'visible', 'visibility', 'callback', 'factory', 'builder', 'options', 'config', 'settings', 'params', 'exists', 'set', 'get', 'is', 'has']);

/** Words of an identifier: snake, kebab, dotted and camelCase split, lower-cased. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** 'strong', 'weak' or null for a variable/key name. */
export function secretNameStrength(name: string): 'strong' | 'weak' | null {
  const w = words(name);
  if (!w.length) return null;
  const last = w[w.length - 1]!;
  // `private_key_id` (a GCP service-account key's id) is as secret as its key.
  if (NOT_LAST.has(last) && !(last === 'id' && w.includes('private'))) return null;
  let strong = false;
  let weak = false;
  for (let i = 0; i < w.length; i++) {
    const x = w[i]!;
    if (NEVER.has(x)) return null;
    if (STRONG.has(x)) strong = true;
    else if (WEAK.has(x)) weak = true;
    if (i + 1 < w.length && STRONG_PAIRS.has(`${x} ${w[i + 1]}`)) strong = true;
  }
  // One run-together word: secretaccesskey, dbpassword, githubtoken.
  if (!strong && w.some((x) => COMPOUND.test(x))) strong = true;
  return strong ? 'strong' : weak ? 'weak' : null;
}
const COMPOUND = /secret|passw|passphrase|token|apikey|accesskey|privatekey|credential/;

const PLACEHOLDER = /^(?:x{3,}|\*{3,}|\.{3,}|-+|_+|changeme|change[_-]?me|replace[_-]?me|your[_-].*|<[^>]*>|\[[^\]]*\]|\{\{.*\}\}|\$\{.*\}?|\$\(.*\)?|\$[A-Za-z_][\w]*|%\(?[A-Za-z_]*\)?s?|%[A-Za-z_]+%|null|nil|none|undefined|true|false|yes|no|on|off|todo|tbd|secret|password|token|example|dummy|test|redacted|hidden|string|number|boolean|bool|int|str|bytes|buffer|object|any|unknown|never|void|required|optional|env|\(\)|\[\]|\{\})$/i;
const CODE_REF = /^(?:process\.env|os\.environ|os\.getenv|env[.:[(]|ENV\[|System\.getenv|getenv|import\.meta|this\.|self\.|config\.|settings\.|cfg\.|options\.|opts\.|props\.|args\.|params\.|req\.|request\.|ctx\.|context\.|secrets\.|vault\.|await\b|new\b|function\b|return\b|typeof\b|lambda\b|fn\b|!!|&[a-z]|\*[a-z])/;
const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const HEX = /^[0-9a-fA-F]+$/;
const PASSWORDISH = new Set(['password', 'passwd', 'pwd', 'pin', 'passcode', 'pass', 'passphrase']);

export function entropy(s: string): number {
  const f = new Map<string, number>();
  for (const c of s) f.set(c, (f.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of f.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

type ValueContext = 'quoted' | 'config' | 'code';

/**
 * Does `v`, the literal value under a secret-like name, look like a secret rather than code, a type,
 * a reference or a label? `quoted`: a string literal; `config`: an unquoted value on a line the
 * name starts (YAML, INI, env); `code`: unquoted anywhere else (`token = getToken()`).
 */
function secretValue(v: string, name: string, strength: 'strong' | 'weak', context: ValueContext): boolean {
  if (v.startsWith(MARKER_PREFIX)) return false;
  const nameWords = words(name);
  const passwordish = nameWords.some((w) => PASSWORDISH.has(w));
  if (v.length < (strength === 'weak' ? 16 : passwordish ? 4 : 6)) return false;
  if (PLACEHOLDER.test(v) || CODE_REF.test(v) || ENV_NAME.test(v)) return false;
  if (/^\/|^\.{1,2}\/|^~\/|^[A-Za-z]:\\/.test(v)) return false; // a path
  if (/^[a-z][a-z0-9+.-]*:\/\/[^@]*$/i.test(v)) return false; // a URL without userinfo
  if (/\s/.test(v)) return false; // prose, a label
  const lower = v.toLowerCase();
  if (lower === name.toLowerCase() || nameWords.includes(lower)) return false; // "password": "Password"
  if (/^\d+(?:\.\d+)?$/.test(v) && !passwordish) return false; // max_tokens: 4096
  if (context !== 'quoted' && /[()[\]{}<>|]/.test(v)) return false; // calls, types, flow collections
  if (context === 'code') {
    if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/.test(v) && !/\d/.test(v) && !mixedCaseRandom(v)) return false; // an identifier, a.b.c
  }
  const oneWord = /^[A-Za-z][a-z]*$/.test(v);
  if (oneWord) {
    if (/^[A-Z]/.test(v) && context === 'quoted') return false; // a label: "Passwort"
    if (!passwordish && v.length < 12 && !mixedCaseRandom(v)) return false; // token: "bearer", secret: hidden
  }
  if (context === 'config' && /^[A-Za-z_$][\w$]*\.[A-Za-z_$][\w$.]*$/.test(v) && !/\d/.test(v)) return false; // a.b.c
  if (strength === 'weak' && (!(randomLooking(v) || HEX.test(v)) || entropy(v) < 3.2)) return false;
  return true;
}

/** qWeRtYuIoPaSdFgH: letters only, but cased at random rather than at word starts. */
function mixedCaseRandom(v: string): boolean {
  let up = 0;
  for (const c of v) if (c >= 'A' && c <= 'Z') up++;
  return v.length >= 12 && up >= 3 && up / v.length >= 0.25 && up / v.length <= 0.75;
}

function parseValue(line: string, at: number): { start: number; end: number; quoted: boolean } | null {
  const q = line[at];
  if (q === '"' || q === "'" || q === '`') {
    let i = at + 1;
    while (i < line.length && line[i] !== q) i += line[i] === '\\' ? 2 : 1;
    return { start: at + 1, end: Math.min(i, line.length), quoted: true };
  }
  let i = at;
  while (i < line.length && !/[\s,;&"'`]/.test(line[i]!)) i++;
  // A trailing `)`/`}` that closes the surrounding code, not the value.
  let end = i;
  while (end > at && /[)}\]]/.test(line[end - 1]!)) end--;
  return end > at ? { start: at, end, quoted: false } : null;
}

// A config line: the name starts the line (YAML, TOML, INI, env, properties).
const CONFIG_LINE_HEAD = /^[ \t]*(?:export[ \t]+|set[ \t]+|setx[ \t]+|-[ \t]+)?["']?$/;

function assignmentSpansInLine(line: string, base: number, out: Span[]): void {
  NAME_SEP.lastIndex = 0;
  for (let m = NAME_SEP.exec(line); m; m = NAME_SEP.exec(line)) {
    const name = m[2]!;
    const sep = m[4]!;
    // A space separates a value only after a CLI flag (--password x) or before a quoted value (password "x").
    if ((sep === ' ' || sep === '\t') && !m[1] && !/["'`]/.test(line[NAME_SEP.lastIndex] ?? '')) continue;
    const strength = secretNameStrength(name);
    if (!strength) continue;
    let at = NAME_SEP.lastIndex;
    // `x == y`, `x === y`: comparisons, not assignments.
    if (sep === '=' && line[at] === '=') continue;
    // A type annotation: `password: string = "..."`: the value is after the `=`.
    if (sep === ':') {
      const t = /^[A-Za-z_$][\w$.]*(?:<[^>]*>)?(?:\[\])?(?:[ \t]*\|[ \t]*[A-Za-z_$][\w$.]*)*[ \t]*=(?!=)[ \t]*/.exec(line.slice(at));
      if (t) at += t[0].length;
    }
    const v = parseValue(line, at);
    if (!v) continue;
    const value = line.slice(v.start, v.end);
    const configLine = !v.quoted && (sep === ':' || sep === '=') && CONFIG_LINE_HEAD.test(line.slice(0, m.index)) && !/[,;][ \t]*$/.test(line);
    if (!secretValue(value, name, strength, v.quoted ? 'quoted' : configLine ? 'config' : 'code')) continue;
    let end = v.end;
    // `password: two words` on a config line: the rest of the line (before a comment) is the value.
    if (configLine && strength === 'strong' && /^[ \t]/.test(line.slice(end))) {
      const rest = line.slice(end);
      const r = /^[^#\r\n]*?(?=[ \t]+#|[ \t]*$)/.exec(rest);
      if (r && r[0].trim()) end += r[0].length;
    }
    out.push({ start: base + v.start, end: base + end, rule: 'secret-assignment' });
  }
  // A default under a secret's name: os.getenv("API_KEY", "..."), config.get('password', '...').
  if (line.includes(',')) {
    for (const x of line.matchAll(/(["'])([A-Za-z_][\w.-]*)\1[ \t]*,[ \t]*(["'])((?:(?!\3).)+)\3/dg)) {
      const strength = secretNameStrength(x[2]!);
      if (strength && secretValue(x[4]!, x[2]!, strength, 'quoted')) out.push({ start: base + x.indices![4]![0], end: base + x.indices![4]![1], rule: 'secret-assignment' });
    }
  }
  // .NET config and similar: key="ApiKey" value="..." / name="password" value="..."
  if (line.includes('value')) {
    const kv = /(?:key|name)\s*=\s*["']([^"']+)["']\s+value\s*=\s*["']([^"']+)["']/di.exec(line);
    if (kv) {
      const strength = secretNameStrength(kv[1]!);
      if (strength && secretValue(kv[2]!, kv[1]!, strength, 'quoted')) out.push({ start: base + kv.indices![2]![0], end: base + kv.indices![2]![1], rule: 'secret-assignment' });
    }
  }
  // XML elements: <password>...</password>, <client_secret>...</client_secret>
  if (line.includes('</')) {
    for (const x of line.matchAll(/<([A-Za-z_][\w.-]*)>([^<\s]{6,})<\/\1>/dg)) {
      const strength = secretNameStrength(x[1]!);
      if (strength && secretValue(x[2]!, x[1]!, strength, 'quoted')) out.push({ start: base + x.indices![2]![0], end: base + x.indices![2]![1], rule: 'secret-assignment' });
    }
  }
}

function assignmentSpans(text: string, out: Span[]): void {
  KEYWORDS.lastIndex = 0;
  for (let m = KEYWORDS.exec(text); m; m = KEYWORDS.exec(text)) {
    const ls = text.lastIndexOf('\n', m.index) + 1;
    let le = text.indexOf('\n', m.index);
    if (le < 0) le = text.length;
    if (le - ls > 4096) {
      // Minified code: a very long line is parsed in slices around its hits.
      const s = Math.max(ls, m.index - 256);
      const e = Math.min(le, m.index + 2048);
      assignmentSpansInLine(text.slice(s, e), s, out);
      KEYWORDS.lastIndex = e;
      continue;
    }
    assignmentSpansInLine(text.slice(ls, le), ls, out);
    KEYWORDS.lastIndex = le; // one parse per line
  }
}

// ---------------------------------------------------------------------------------------------
// Private key material

const KEY_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----|PuTTY-User-Key-File-\d+:/g;
const KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----|Private-MAC: [0-9a-f]+/g;
const PUBLIC_BLOCK = /-----BEGIN ((?:[A-Z0-9]+ )*(?:CERTIFICATE|PUBLIC KEY|PUBLIC KEY BLOCK|SIGNATURE|CERTIFICATE REQUEST|NEW CERTIFICATE REQUEST|X509 CRL|TRUSTED CERTIFICATE|MESSAGE|DH PARAMETERS|EC PARAMETERS))-----[\s\S]*?(?:-----END \1-----|$(?![\s\S]))/g;

/** [start, end) of each private key block in `text`; a block with no END runs to the end of the text. */
export function privateKeyBlocks(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (!text.includes('PRIVATE KEY') && !text.includes('PuTTY-User-Key-File')) return out;
  const events: Array<{ at: number; end: number; begin: boolean }> = [];
  for (const m of text.matchAll(KEY_BEGIN)) events.push({ at: m.index, end: m.index + m[0].length, begin: true });
  for (const m of text.matchAll(KEY_END)) events.push({ at: m.index, end: m.index + m[0].length, begin: false });
  events.sort((x, y) => x.at - y.at);
  let open = -1;
  let last = 0;
  for (const ev of events) {
    if (ev.begin) {
      if (open < 0) open = ev.at;
    } else if (open >= 0) {
      out.push([open, ev.end]);
      open = -1;
      last = ev.end;
    } else {
      // An END with no BEGIN before it: the text starts inside a key body.
      out.push([headlessStart(text, ev.at, last), ev.end]);
      last = ev.end;
    }
  }
  if (open >= 0) out.push([open, text.length]);
  return out;
}

// A line of key material as it appears in PEM, in a string literal, or in a JSON value with
// escaped newlines: base64 (or PEM header fields), optionally quoted, optionally continued.
const KEY_LINE = /^[ \t]*(?:\+[ \t]*)?["'`]?[A-Za-z0-9+/=]*["'`]?[ \t]*[,+;]?[ \t]*\r?$/;
const PEM_FIELD = /^[ \t]*(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset|Encryption|Public-Lines|Private-Lines|Key-Derivation|Argon2-[A-Za-z]+):/;

/** Where the key body that ends at `endAt` begins, walking back over key-material lines (not before `floor`). */
function headlessStart(text: string, endAt: number, floor: number): number {
  let start = endAt;
  let pos = endAt;
  while (pos > floor) {
    // The previous segment ends at pos; segments are separated by a newline or an escaped `\n`.
    const nl = text.lastIndexOf('\n', pos - 1);
    const esc = pos >= 2 ? text.lastIndexOf('\\n', pos - 2) : -1;
    const escaped = esc >= 0 && esc + 2 > nl + 1;
    const cut = escaped ? esc : nl;
    const segStart = Math.max(floor, escaped ? esc + 2 : nl + 1);
    const seg = text.slice(segStart, pos);
    if (!(KEY_LINE.test(seg) || PEM_FIELD.test(seg))) break;
    start = segStart;
    if (cut < 0 || segStart <= floor) break;
    pos = cut;
  }
  return start;
}

// A run of headerless key-body lines: e.g. a selection taken from the middle of a key.
const BODY_LINE = /^[ \t]*["'`]?([A-Za-z0-9+/]{16,}={0,2})["'`]?[ \t]*[,+;]?[ \t]*\r?$/;
const LONG_B64_LINE = /^[ \t]*["'`]?[A-Za-z0-9+/]{56,}/m;

function keyBodySpans(text: string, covered: ReadonlyArray<readonly [number, number]>, out: Span[]): void {
  if (!LONG_B64_LINE.test(text)) return;
  const publicBlocks: Array<[number, number]> = [];
  if (text.includes('-----BEGIN')) for (const m of text.matchAll(PUBLIC_BLOCK)) publicBlocks.push([m.index, m.index + m[0].length]);
  const inside = (p: number) => covered.some(([a, b]) => p >= a && p < b) || publicBlocks.some(([a, b]) => p >= a && p < b);
  let runStart = -1;
  let runEnd = -1;
  let lines = 0;
  let chars = 0;
  let longest = 0;
  const flush = () => {
    if (runStart >= 0 && lines >= 2 && chars >= 100 && longest >= 56) out.push({ start: runStart, end: runEnd, rule: 'private-key' });
    runStart = -1;
    lines = 0;
    chars = 0;
    longest = 0;
  };
  let at = 0;
  while (at <= text.length) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl);
    const m = line.length >= 16 && line.length <= 200 ? BODY_LINE.exec(line) : null;
    const body = m?.[1];
    // Pure hex (a column of hashes) or one-word lines are not key material.
    if (body && !HEX.test(body) && randomLooking(body) && !inside(at)) {
      if (runStart < 0) runStart = at + line.indexOf(body);
      runEnd = at + line.indexOf(body) + body.length;
      lines++;
      chars += body.length;
      if (body.length > longest) longest = body.length;
    } else flush();
    at = nl + 1;
  }
  flush();
}

/**
 * [start, end) of all private key material in a whole document: blocks (with or without their
 * END) and runs of headerless key-body lines. Context windows cut from the document must not start
 * or end inside one (see core/completion.ts).
 */
export function keyMaterialRanges(text: string): Array<[number, number]> {
  const blocks = privateKeyBlocks(text);
  const bodies: Span[] = [];
  keyBodySpans(text, blocks, bodies);
  return [...blocks, ...bodies.map((b): [number, number] => [b.start, b.end])].sort((x, y) => x[0] - y[0]);
}

/** Every span our own rules find in `text`. */
export function ownSpans(text: string): Span[] {
  const out: Span[] = [];
  if (!text) return out;
  const blocks = privateKeyBlocks(text);
  for (const [start, end] of blocks) out.push({ start, end, rule: 'private-key' });
  keyBodySpans(text, blocks, out);
  tokenSpans(text, out);
  urlSpans(text, out);
  assignmentSpans(text, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Whole documents that are credentials whatever their name

/**
 * Why a whole document is a credential file judged by its content, whatever its name (null: it is
 * not): a GCP service-account or user-credentials JSON, a kubeconfig, a Docker config with auths.
 * Only a document that IS such a file counts (a JSON document, a kubeconfig at its top level); a
 * source file that merely contains one is redacted by the other rules instead.
 */
export function sensitiveDocument(text: string): string | null {
  if (text.length < 20 || text.length > 1_000_000) return null;
  const json = /^\s*\{[\s\S]*\}\s*$/.test(text);
  if (json && text.includes('service_account') && text.includes('private_key') && /^\s*\{[^{}]*?"type"\s*:\s*"service_account"/.test(text)) return 'gcp-service-account';
  if (json && text.includes('authorized_user') && text.includes('refresh_token') && /"type"\s*:\s*"authorized_user"/.test(text)) return 'gcp-user-credentials';
  if (json && text.includes('auths') && /"auths"\s*:/.test(text) && /"(?:auth|identitytoken)"\s*:\s*"[A-Za-z0-9+/=._-]{8,}"/.test(text)) return 'docker-config';
  if (text.includes('kind:') && /^kind:[ \t]*Config[ \t]*\r?$/m.test(text) && /^apiVersion:/m.test(text) && /^[ \t-]*(?:client-key-data|client-certificate-data|token|password|auth-provider|exec):/m.test(text)) return 'kubeconfig';
  return null;
}
