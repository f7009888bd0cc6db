// A redaction corpus generated at run time from a seeded RNG: secrets of many kinds in the
// syntaxes they are found in (code, .env/export lines, YAML, TOML, INI, JSON, connection strings,
// URLs, headers, CLI lines, PEM/OpenSSH/PGP blocks), and benign snippets that look secret-ish but
// are not (hashes, git SHAs, lockfile integrity strings, UUIDs, base64 images, minified code, long
// identifiers, certificates, i18n labels, type declarations). Formats follow the providers'
// documented shapes; bodies are random, so nothing here is a real credential.
import crypto from 'node:crypto';

export type Rng = () => number;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const HEXC = '0123456789abcdef';
const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SYMBOLS = ALNUM + '!#%^*+=-_~';

export class Gen {
  constructor(readonly rng: Rng) {}
  int(n: number): number {
    return Math.floor(this.rng() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  alnum(n: number): string {
    // Random tokens of the length real ones have contain digits and both cases; make sure of it.
    let s = this.chars(ALNUM, n);
    if (n >= 8 && !(/\d/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s))) s = `${this.chars('ABCDEFGHJKLMNPQRSTUVWXYZ', 1)}${this.chars('abcdefghijkmnopqrstuvwxyz', 1)}${this.chars('23456789', 2)}${s.slice(4)}`;
    return s;
  }
  hex(n: number): string {
    let s = this.chars(HEXC, n);
    if (n >= 8 && !/[a-f]/.test(s)) s = `a${s.slice(1)}`;
    if (n >= 8 && (s.match(/\d/g)?.length ?? 0) < 2) s = `${s.slice(0, -2)}42`;
    return s;
  }
  b64(n: number): string {
    return this.alnum(4) + this.chars(B64, n - 4);
  }
  b64url(n: number): string {
    return this.alnum(4) + this.chars(B64URL, n - 4);
  }
  digits(n: number): string {
    return String(1 + this.int(9)) + this.chars('0123456789', n - 1);
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  password(n: number): string {
    return `${this.alnum(n - 2)}${this.pick(['!', '#', '%', '^', '*', '+', '~'])}${this.int(10)}`.replace(/^[^A-Za-z]/, 'Q');
  }
  word(): string {
    return this.pick(['orders', 'billing', 'search', 'ledger', 'catalog', 'inbox', 'reports', 'payments', 'metrics', 'profile', 'uploads', 'sessions']);
  }
  host(): string {
    return `${this.word()}-${this.int(90) + 10}.${this.pick(['internal', 'prod.example.com', 'svc.cluster.local', 'corp.example.net'])}`;
  }
}

/** One planted secret: its kind, the text to plant, and the parts that must never arrive. */
export interface Secret {
  kind: string;
  text: string;
  /** The secret values themselves (no labels like `-----BEGIN` or `redis://`). */
  values: string[];
}

type Maker = (g: Gen) => Secret;

const wrap = (s: string, n: number): string[] => s.match(new RegExp(`.{1,${n}}`, 'g')) ?? [];

/** A PEM private key of a given type from Node's real key generator (seeded: only its placement varies). */
function pemKey(kind: 'rsa' | 'pkcs8' | 'ec' | 'ed25519' | 'dsa' | 'encrypted', g: Gen): { pem: string; body: string[] } {
  const pass = g.password(16);
  let pem: string;
  switch (kind) {
    case 'rsa':
      pem = crypto.generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
      break;
    case 'pkcs8':
      pem = crypto.generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
      break;
    case 'ec':
      pem = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'sec1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
      break;
    case 'ed25519':
      pem = crypto.generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
      break;
    case 'dsa':
      pem = crypto.generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
      break;
    case 'encrypted':
      pem = crypto.generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: pass }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
      break;
  }
  const lines = pem.trim().split('\n');
  return { pem: pem.trim(), body: lines.slice(1, -1) };
}

function opensshKey(g: Gen): { pem: string; body: string[] } {
  const raw = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), g.bytes(380)]).toString('base64');
  const body = wrap(raw, 70);
  return { pem: ['-----BEGIN OPENSSH PRIVATE KEY-----', ...body, '-----END OPENSSH PRIVATE KEY-----'].join('\n'), body };
}

function pgpKey(g: Gen): { pem: string; body: string[] } {
  const body = wrap(g.bytes(900).toString('base64'), 64);
  const crc = `=${g.b64(4)}`;
  return { pem: ['-----BEGIN PGP PRIVATE KEY BLOCK-----', '', ...body, crc, '-----END PGP PRIVATE KEY BLOCK-----'].join('\n'), body };
}

const keyIn = (g: Gen, pem: string): string => g.pick([
  () => `const DEPLOY_KEY = \`${pem}\`;`,
  () => `deploy_key: |\n${pem.split('\n').map((l) => `  ${l}`).join('\n')}`,
  () => `KEY = """${pem}"""`,
  () => pem,
])();

const pemMaker = (kind: Parameters<typeof pemKey>[0]): Maker => (g) => {
  const k = pemKey(kind, g);
  return { kind: `private-key-${kind}`, text: keyIn(g, k.pem), values: k.body };
};

/** Where a value under a secret-like name is written: the syntaxes of code, config and env files. */
function assigned(g: Gen, names: readonly string[], value: string): string {
  const name = g.pick(names);
  const snake = name.toLowerCase();
  const upper = name.toUpperCase();
  const camel = snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return g.pick([
    () => `export ${upper}=${value}`,
    () => `${upper}=${value}`,
    () => `${upper}="${value}"`,
    () => `${snake}: ${value}`,
    () => `  ${snake}: "${value}"`,
    () => `${snake} = "${value}"`,
    () => `${snake} = ${value}`,
    () => `  "${snake}": "${value}",`,
    () => `const ${camel} = '${value}';`,
    () => `${camel}: "${value}",`,
    () => `${upper} = os.environ.get("${upper}", "${value}")`,
    () => `$env:${upper} = "${value}"`,
    () => `set ${upper}=${value}`,
    () => `${snake.replace(/_/g, '.')}=${value}`,
  ])();
}

const named = (kind: string, names: readonly string[], value: (g: Gen) => string): Maker => (g) => {
  const v = value(g);
  return { kind, text: assigned(g, names, v), values: [v] };
};

const inCode = (kind: string, value: (g: Gen) => string, names: readonly string[] = ['client', 'value', 'config', 'creds', 'x']): Maker => (g) => {
  const v = value(g);
  const text = g.pick([
    () => `const ${g.pick(names)} = "${v}";`,
    () => `${g.pick(names)}: '${v}'`,
    () => `  "${g.pick(names)}": "${v}",`,
    () => `curl -H "X-Auth: ${v}" https://api.example.com/v1/items`,
    () => `# used in CI: ${v}`,
    () => v,
  ])();
  return { kind, text, values: [v] };
};

const urlWith = (kind: string, schemes: readonly string[], port: number): Maker => (g) => {
  const pass = g.password(18);
  const url = `${g.pick(schemes)}://${g.pick(['admin', 'app', 'svc_user', 'default', 'deploy'])}:${pass}@${g.host()}:${port}/${g.word()}`;
  const text = g.pick([
    () => `${g.pick(['DATABASE_URL', 'BROKER_URL', 'CACHE_URL', 'QUEUE_URL', 'UPSTREAM'])}=${url}`,
    () => `url: ${url}`,
    () => `const client = connect("${url}");`,
    () => `  "dsn": "${url}",`,
    () => `conn = create_engine('${url}')`,
  ])();
  return { kind, text, values: [pass] };
};

export const MAKERS: readonly Maker[] = [
  inCode('aws-access-key-id', (g) => `AKIA${g.chars(UPPER32, 16)}`, ['accessKeyId', 'aws_access_key_id', 'AWS_ACCESS_KEY_ID']),
  named('aws-secret-access-key', ['aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY', 'secret_access_key', 'SecretAccessKey'], (g) => g.b64(40)),
  named('aws-session-token', ['aws_session_token', 'AWS_SESSION_TOKEN'], (g) => `FwoGZXIvYXdzE${g.b64(180)}`),
  inCode('github-pat', (g) => `ghp_${g.alnum(36)}`),
  inCode('github-fine-grained-pat', (g) => `github_pat_${g.alnum(22)}_${g.alnum(59)}`),
  inCode('github-app-token', (g) => `${g.pick(['ghs', 'gho', 'ghu', 'ghr'])}_${g.alnum(36)}`),
  inCode('gitlab-pat', (g) => `glpat-${g.b64url(20)}`),
  inCode('gitlab-runner-token', (g) => `glrt-${g.b64url(20)}`),
  inCode('slack-bot-token', (g) => `xoxb-${g.digits(12)}-${g.digits(13)}-${g.alnum(24)}`),
  inCode('slack-user-token', (g) => `xoxp-${g.digits(12)}-${g.digits(12)}-${g.digits(13)}-${g.hex(32)}`),
  (g) => {
    const path = `T${g.chars(UPPER32, 10)}/B${g.chars(UPPER32, 10)}/${g.alnum(24)}`;
    return { kind: 'slack-webhook', text: `SLACK_WEBHOOK_URL=https://hooks.slack.com/services/${path}`, values: [path] };
  },
  (g) => {
    const path = `${g.digits(18)}/${g.b64url(68)}`;
    return { kind: 'discord-webhook', text: `webhook: "https://discord.com/api/webhooks/${path}"`, values: [path] };
  },
  (g) => {
    const id = Buffer.from(g.digits(18)).toString('base64').replace(/=+$/, '');
    const v = `${id}.${g.b64url(6)}.${g.b64url(38)}`;
    return { kind: 'discord-bot-token', text: `client.login("${v}");`, values: [v] };
  },
  inCode('stripe-secret-key', (g) => `sk_live_${g.alnum(24 + g.int(70))}`),
  inCode('stripe-restricted-key', (g) => `rk_live_${g.alnum(24 + g.int(20))}`),
  inCode('stripe-webhook-secret', (g) => `whsec_${g.alnum(32)}`),
  inCode('openai-project-key', (g) => `sk-proj-${g.b64url(48)}T3BlbkFJ${g.b64url(48)}`),
  inCode('openai-legacy-key', (g) => `sk-${g.alnum(20)}T3BlbkFJ${g.alnum(20)}`),
  inCode('anthropic-api-key', (g) => `sk-ant-api03-${g.b64url(93)}AA`),
  (g) => {
    const v = `npm_${g.alnum(36)}`;
    return { kind: 'npm-token', text: g.pick([`//registry.npmjs.org/:_authToken=${v}`, `NPM_TOKEN=${v}`, `npmAuthToken: "${v}"`]), values: [v] };
  },
  inCode('google-api-key', (g) => `AIza${g.b64url(35)}`, ['apiKey', 'mapsKey', 'GOOGLE_KEY', 'firebase']),
  inCode('google-oauth-client-secret', (g) => `GOCSPX-${g.b64url(28)}`),
  inCode('google-oauth-refresh-token', (g) => `1//0${g.b64url(60)}`),
  (g) => {
    const id = g.hex(40);
    const k = pemKey('pkcs8', g);
    const json = JSON.stringify({
      type: 'service_account', project_id: `${g.word()}-prod-${g.int(900) + 100}`, private_key_id: id,
      private_key: `${k.pem}\n`, client_email: `deployer@${g.word()}-prod.iam.gserviceaccount.com`, client_id: g.digits(21),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth', token_uri: 'https://oauth2.googleapis.com/token',
    }, null, 2);
    // The JSON escapes the key's newlines: each body line is still one value.
    return { kind: 'gcp-service-account-json', text: json, values: [id, ...k.body] };
  },
  (g) => {
    const id = g.hex(40);
    return { kind: 'gcp-private-key-id', text: `  "private_key_id": "${id}",`, values: [id] };
  },
  (g) => {
    const key = g.b64(86) + '==';
    return { kind: 'azure-storage-connection-string', text: `AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=${g.word()}store;AccountKey=${key};EndpointSuffix=core.windows.net"`, values: [key] };
  },
  (g) => {
    const key = g.b64(43) + '=';
    return { kind: 'azure-service-bus-key', text: `"ServiceBus": "Endpoint=sb://${g.word()}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${key}"`, values: [key] };
  },
  (g) => {
    const sig = encodeURIComponent(g.b64(43) + '=');
    return { kind: 'azure-sas-token', text: `const blobUrl = "https://${g.word()}.blob.core.windows.net/exports/data.csv?sv=2022-11-02&ss=b&srt=o&sp=r&se=2027-01-01T00:00:00Z&sig=${sig}";`, values: [sig] };
  },
  inCode('azure-ad-client-secret', (g) => `${g.alnum(3)}${g.int(10)}Q~${g.b64url(34).replace(/-/g, '.')}`),
  (g) => {
    const p = g.password(16);
    return { kind: 'sql-server-password', text: `"DefaultConnection": "Server=tcp:${g.word()}.database.windows.net,1433;Initial Catalog=app;User ID=appuser;Password=${p};Encrypt=True;"`, values: [p] };
  },
  (g) => {
    const head = Buffer.from(JSON.stringify({ alg: g.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT', kid: g.hex(8) })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: g.digits(10), name: 'ci-bot', iat: 1700000000 + g.int(1e7), scope: 'repo:write' })).toString('base64url');
    const v = `${head}.${body}.${g.b64url(43)}`;
    return { kind: 'jwt', text: g.pick([`Authorization: Bearer ${v}`, `const session = "${v}";`, `id_token=${v}`]), values: [v] };
  },
  pemMaker('rsa'),
  pemMaker('pkcs8'),
  pemMaker('ec'),
  pemMaker('ed25519'),
  pemMaker('dsa'),
  pemMaker('encrypted'),
  (g) => {
    const k = opensshKey(g);
    return { kind: 'private-key-openssh', text: keyIn(g, k.pem), values: k.body };
  },
  (g) => {
    const k = pgpKey(g);
    return { kind: 'private-key-pgp', text: keyIn(g, k.pem), values: k.body };
  },
  urlWith('url-postgres', ['postgres', 'postgresql'], 5432),
  urlWith('url-mysql', ['mysql', 'mariadb'], 3306),
  urlWith('url-redis', ['redis', 'rediss'], 6379),
  urlWith('url-amqp', ['amqp', 'amqps'], 5672),
  urlWith('url-mongodb', ['mongodb+srv', 'mongodb'], 27017),
  urlWith('url-other-scheme', ['ftp', 'sftp', 'smtp', 'ldap', 'nats', 'kafka+ssl', 'https'], 2100),
  named('client-secret-unquoted', ['client_secret', 'CLIENT_SECRET', 'oauth_client_secret'], (g) => g.alnum(32)),
  named('api-key-high-entropy', ['api_key', 'API_KEY', 'apikey', 'service_api_key'], (g) => g.alnum(32 + g.int(16))),
  named('generic-token', ['token', 'auth_token', 'API_TOKEN', 'access_token', 'refresh_token'], (g) => g.b64url(40)),
  named('password', ['password', 'DB_PASSWORD', 'db_pass', 'smtp_password', 'passwd', 'redis_password'], (g) => g.password(14 + g.int(8))),
  named('django-secret-key', ['SECRET_KEY', 'secret_key'], (g) => g.chars(SYMBOLS, 50).replace(/^./, 'k9')),
  named('rails-secret-key-base', ['secret_key_base', 'SECRET_KEY_BASE'], (g) => g.hex(128)),
  named('twilio-auth-token', ['TWILIO_AUTH_TOKEN', 'twilio_auth_token'], (g) => g.hex(32)),
  inCode('twilio-api-key', (g) => `SK${g.hex(32)}`),
  inCode('sendgrid-api-key', (g) => `SG.${g.b64url(22)}.${g.b64url(43)}`),
  inCode('mailgun-api-key', (g) => `key-${g.alnum(32)}`),
  inCode('huggingface-token', (g) => `hf_${g.alnum(34)}`),
  inCode('digitalocean-token', (g) => `dop_v1_${g.hex(64)}`),
  inCode('pypi-token', (g) => `pypi-AgEIcHlwaS5vcmc${g.b64url(60)}`),
  inCode('databricks-token', (g) => `dapi${g.hex(32)}`),
  inCode('vault-token', (g) => `hvs.${g.b64url(90)}`),
  inCode('telegram-bot-token', (g) => `${g.digits(10)}:AA${g.b64url(33)}`),
  inCode('shopify-token', (g) => `shpat_${g.hex(32)}`),
  inCode('linear-api-key', (g) => `lin_api_${g.alnum(40)}`),
  inCode('postman-api-key', (g) => `PMAK-${g.hex(24)}-${g.hex(34)}`),
  inCode('grafana-service-account-token', (g) => `glsa_${g.alnum(32)}_${g.hex(8)}`),
  inCode('age-secret-key', (g) => `AGE-SECRET-KEY-1${g.chars('QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58)}`),
  inCode('atlassian-api-token', (g) => `ATATT3xFfGF0${g.b64url(180)}`),
  (g) => {
    const user = g.pick(['deploy', 'ci', 'admin']);
    const pass = g.password(16);
    const v = Buffer.from(`${user}:${pass}`).toString('base64');
    return { kind: 'basic-auth-header', text: `proxy_set_header Authorization "Basic ${v}";`, values: [v, pass] };
  },
  (g) => {
    const v = g.b64url(40);
    return { kind: 'bearer-token', text: g.pick([`-H "Authorization: Bearer ${v}"`, `headers: { Authorization: \`Bearer ${v}\` },`]), values: [v] };
  },
  (g) => {
    const key = g.hex(32);
    return { kind: 'sentry-dsn', text: `SENTRY_DSN=https://${key}@o${g.digits(6)}.ingest.sentry.io/${g.digits(7)}`, values: [key] };
  },
  (g) => {
    const p = g.password(15);
    return { kind: 'curl-user-password', text: `curl -u deploy:${p} https://artifacts.${g.host()}/upload`, values: [p] };
  },
  (g) => {
    const p = g.password(15);
    return { kind: 'xml-password', text: `<datasource><username>app</username><password>${p}</password></datasource>`, values: [p] };
  },
  (g) => {
    const v = g.alnum(32);
    return { kind: 'dotnet-appsetting-key', text: `<add key="PaymentApiKey" value="${v}" />`, values: [v] };
  },
  (g) => {
    const v = g.alnum(28);
    return { kind: 'cli-flag-token', text: `./deploy.sh --region eu-west-1 --token ${v} --yes`, values: [v] };
  },
];

/** Every kind a maker can produce. */
export const KINDS: readonly string[] = [...new Set(MAKERS.map((m) => m(new Gen(seededRng(1))).kind))];

/** `n` secrets cycling through every kind (so each appears n / kinds times or more). */
export function makeSecrets(g: Gen, n: number, offset = 0): Secret[] {
  const out: Secret[] = [];
  for (let i = 0; i < n; i++) out.push(MAKERS[(offset + i) % MAKERS.length]!(g));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Benign snippets: must arrive as they are

type BenignMaker = (g: Gen) => string;

export const BENIGN_MAKERS: readonly BenignMaker[] = [
  (g) => `const digest = "${g.hex(64)}"; // sha256 of the release tarball`,
  (g) => `expect(sha1(buf)).toBe('${g.hex(40)}');`,
  (g) => `commit ${g.hex(40)}\nAuthor: Dana Lee <dana@example.com>\nDate:   Tue Mar 4 10:12:00 2025 +0100`,
  (g) => `git checkout ${g.hex(7)} && git cherry-pick ${g.hex(12)}`,
  (g) => `    "node_modules/${g.word()}-utils": {\n      "version": "${g.int(9)}.${g.int(20)}.${g.int(10)}",\n      "resolved": "https://registry.npmjs.org/${g.word()}-utils/-/${g.word()}-utils-1.${g.int(9)}.0.tgz",\n      "integrity": "sha512-${g.b64(86)}=="\n    },`,
  (g) => `${g.word()}-lib@^${g.int(5)}.0.0:\n  version "${g.int(5)}.${g.int(9)}.${g.int(9)}"\n  resolved "https://registry.yarnpkg.com/${g.word()}-lib/-/${g.word()}-lib-2.0.0.tgz#${g.hex(40)}"\n  integrity sha512-${g.b64(86)}==`,
  (g) => `  /${g.word()}@${g.int(9)}.${g.int(9)}.0:\n    resolution: {integrity: sha512-${g.b64(86)}==}\n    engines: {node: '>=18'}`,
  (g) => `<script src="https://cdn.example.com/lib.min.js" integrity="sha384-${g.b64(64)}" crossorigin="anonymous"></script>`,
  (g) => `github.com/${g.word()}/${g.word()}kit v1.${g.int(20)}.${g.int(9)} h1:${g.b64(43)}=`,
  (g) => `[[package]]\nname = "${g.word()}-core"\nversion = "0.${g.int(20)}.${g.int(9)}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${g.hex(64)}"`,
  (g) => `FROM node:20-alpine@sha256:${g.hex(64)}`,
  (g) => `image: ghcr.io/example/${g.word()}@sha256:${g.hex(64)}`,
  (g) => `const id = "${uuid(g)}";`,
  (g) => `INSERT INTO users (id, email) VALUES ('${uuid(g)}', 'user${g.int(999)}@example.com');`,
  (g) => `  "requestId": "${uuid(g)}",\n  "traceId": "${g.hex(32)}",\n  "spanId": "${g.hex(16)}",`,
  (g) => `const icon = "data:image/png;base64,${g.bytes(90 + g.int(200)).toString('base64')}";`,
  (g) => `background-image: url("data:image/svg+xml;base64,${g.bytes(120).toString('base64')}");`,
  (g) => `!function(e,t){"object"==typeof exports?module.exports=t():e.${g.word()}=t()}(this,function(){var e=${g.int(99)},t=function(n){return n*e+${g.int(9)}};return{a:t,b:function(r,o){for(var i=0;i<r.length;i++)o(r[i],i)},c:"${g.hex(8)}"}});`,
  (g) => `var a=function(){function t(t,e){for(var n=0;n<e.length;n++){var r=e[n];r.enumerable=r.enumerable||!1,r.configurable=!0,"value"in r&&(r.writable=!0),Object.defineProperty(t,r.key,r)}}return function(e,n,r){return n&&t(e.prototype,n),r&&t(e,r),e}}();var k${g.int(99)}="${g.word()}";`,
  (g) => `export function ${longIdent(g)}(${longIdent(g)}: ${longIdent(g, true)}): Promise<${longIdent(g, true)}> {\n  return this.${longIdent(g)}.get(${longIdent(g)});\n}`,
  (g) => `class ${longIdent(g, true)}FactoryBeanPostProcessorAdapter extends Abstract${longIdent(g, true)}Handler {}`,
  (g) => `const ${g.pick(['tokenizer', 'tokenCount', 'keyboardShortcut', 'passwordField'])} = new ${g.pick(['Tokenizer', 'Counter', 'Shortcut', 'InputField'])}({ maxTokens: ${g.int(8000)} });`,
  () => `interface LoginRequest {\n  username: string;\n  password: string;\n  token?: string | null;\n  apiKey: string | undefined;\n}`,
  () => `const password = await promptPassword();\nconst token = process.env.GITHUB_TOKEN;\nconst apiKey = config.apiKey ?? options.apiKey;`,
  () => `def login(username: str, password: str) -> Token:\n    token = auth.authenticate(username, password)\n    return token`,
  () => `  "login": {\n    "password": "Password",\n    "forgotPassword": "Forgot your password?",\n    "token": "Token",\n    "apiKey": "API key"\n  },`,
  (g) => `    password_min_length: ${8 + g.int(8)}\n    token_ttl_seconds: ${g.int(86400)}\n    max_tokens: ${g.int(4096)}`,
  () => `apiKeyEnv: OPENAI_API_KEY\npasswordEnv: DB_PASSWORD\ntoken_url: https://oauth2.example.com/token`,
  (g) => `password: \${{ secrets.DEPLOY_PASSWORD }}\ntoken: \${${g.pick(['GITHUB_TOKEN', 'NPM_TOKEN'])}}`,
  (g) => `url: postgres://localhost:5432/${g.word()}_dev\nredis: redis://cache.internal:6379/0\nbroker: amqp://rabbitmq:5672`,
  (g) => `git clone git@github.com:example/${g.word()}.git && git remote add upstream https://github.com/example/${g.word()}.git`,
  (g) => `<a href="mailto:support@example.com">support</a> <a href="https://example.com/${g.word()}?page=${g.int(9)}&sort=desc">next</a>`,
  (g) => `const color = '#${g.hex(6)}'; const bg = 'rgba(${g.int(255)}, ${g.int(255)}, ${g.int(255)}, 0.5)';`,
  (g) => `const oid = ObjectId("${g.hex(24)}");`,
  (g) => `const videoId = "${g.b64url(11)}"; const nanoid = "${g.b64url(21)}";`,
  (g) => `const encoded = btoa("${g.word()}"); // "${Buffer.from(g.word()).toString('base64')}"`,
  (g) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${g.b64(43)} dev@laptop`,
  (g) => `-----BEGIN CERTIFICATE-----\n${wrap(g.bytes(420).toString('base64'), 64).join('\n')}\n-----END CERTIFICATE-----`,
  (g) => `-----BEGIN PUBLIC KEY-----\n${wrap(g.bytes(160).toString('base64'), 64).join('\n')}\n-----END PUBLIC KEY-----`,
  (g) => `const re = /^(?:[a-z0-9!#$%&'*+/=?^_\`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_\`{|}~-]+)*)@${g.word()}\\.com$/i;`,
  (g) => `SELECT id, created_at FROM events WHERE tenant_id = '${uuid(g)}' AND created_at > now() - interval '${g.int(30)} days';`,
  (g) => `2025-03-04T10:12:${String(g.int(60)).padStart(2, '0')}.${g.digits(3)}Z INFO request_id=${g.hex(16)} status=200 duration_ms=${g.int(900)}`,
  (g) => `const primaryKey = "${g.word()}_id"; const sortKey = "created_at"; const cacheKey = \`user:\${id}:${g.word()}\`;`,
  (g) => `keyboard.bind("ctrl+shift+${g.pick(['k', 'p', 'f'])}", () => openPalette());`,
  (g) => `version: "3.9"\nservices:\n  ${g.word()}:\n    image: ${g.word()}:${g.int(9)}.${g.int(9)}\n    ports: ["${8000 + g.int(999)}:80"]\n    environment:\n      - NODE_ENV=production\n      - LOG_LEVEL=info`,
  (g) => `const hash = crypto.createHash('sha256').update(data).digest('hex'); // e.g. ${g.hex(64)}`,
  (g) => `assert.equal(md5("${g.word()}"), "${g.hex(32)}");`,
  (g) => `"etag": "W/\\"${g.hex(16)}\\"", "lastModified": "Tue, 04 Mar 2025 10:12:00 GMT"`,
  (g) => `const matrix = [[${g.int(9)}, ${g.int(9)}, ${g.int(9)}], [${g.int(9)}, ${g.int(9)}, ${g.int(9)}]]; // identity-ish`,
  (g) => `ipv6: 2001:db8:${g.hex(4)}::${g.hex(4)} mac: ${[1, 2, 3, 4, 5, 6].map(() => g.hex(2)).join(':')}`,
  (g) => `fn ${longIdent(g).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}(ctx: &mut Context) -> Result<(), Error> { Ok(()) }`,
  (g) => `const wasm = Uint8Array.from(atob("AGFzbQEAAAAB${g.b64(40)}"), c => c.charCodeAt(0));`,
];

function uuid(g: Gen): string {
  const h = g.hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[g.int(4)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function longIdent(g: Gen, type = false): string {
  const parts = ['user', 'account', 'session', 'request', 'response', 'handler', 'provider', 'registry', 'resolver', 'configuration', 'transformer', 'serializer', 'repository', 'middleware', 'strategy', 'observer', 'dispatcher'];
  let s = '';
  for (let i = 0; i < 4 + g.int(4); i++) s += g.pick(parts).replace(/^./, (c) => (i === 0 && !type ? c : c.toUpperCase()));
  return s;
}

export function makeBenign(g: Gen, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(BENIGN_MAKERS[i % BENIGN_MAKERS.length]!(g));
  return out;
}

/** Every 8-character substring of `s`. */
export function fragments(s: string, n = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= s.length; i++) out.push(s.slice(i, i + n));
  return out;
}

/** The first fragment of one of `values` that occurs in `haystack`, or null. */
export function leakedFragment(values: readonly string[], haystack: string): string | null {
  for (const v of values) for (const f of fragments(v)) if (haystack.includes(f)) return f;
  return null;
}
