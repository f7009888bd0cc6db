// Credentials the daemon holds: provider API keys stored by name in one private file under the
// home (`$HEARTH_HOME/secrets.json`, 0600, in the 0700 home), so a daemon started by an editor's
// bridge or restarted after a crash has them, whatever its environment. The policy names a secret
// (`apiKeySecret: openai`); the value never appears in the policy, the store, exports, logs, the
// egress ledger or error messages. The CLI (`hearth secrets set|list|remove`) writes the file
// directly (atomic replace); the daemon reads it on each use, so a change applies to the next
// request without a restart. docs/secrets.md.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export const SECRETS_FILE = 'secrets.json';
export const SECRET_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const NAME = new RegExp(SECRET_NAME_PATTERN);
/** Larger values are refused: no API key is this long, and a pasted file is a mistake. */
export const MAX_SECRET_BYTES = 16 * 1024;

export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsError';
  }
}

interface SecretsFile {
  format: 'hearth-secrets';
  version: 1;
  secrets: Record<string, { value: string; setAt: string }>;
}

export interface SecretInfo {
  name: string;
  setAt: string;
  bytes: number;
}

/** What providers read keys from: a value by name, or undefined when it is not set. */
export interface SecretSource {
  get(name: string): string | undefined;
  /** Where the secrets live, for messages (a path, never a value). */
  readonly where: string;
}

export function checkSecretName(name: string): void {
  if (!NAME.test(name)) {
    throw new SecretsError(`"${name.slice(0, 80)}" is not a secret name: use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit), e.g. openai`);
  }
}

/** The secrets file of a home; every read checks that only its owner can read it. */
export class SecretStore implements SecretSource {
  readonly file: string;

  constructor(home: string) {
    this.file = path.join(home, SECRETS_FILE);
  }

  get where(): string {
    return this.file;
  }

  /** Refuses a file others could read or replace (as the token is refused), naming the fix. */
  private inspect(): fs.Stats | undefined {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SecretsError(`cannot read ${this.file}: ${(err as Error).message}`);
    }
    if (!st.isFile()) throw new SecretsError(`${this.file} is not a regular file (a symlink or something else); Hearth will not read keys from it. Fix: rm ${this.file}, then set the keys again with \`hearth secrets set NAME\``);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) throw new SecretsError(`${this.file} is owned by uid ${st.uid}, not by you (uid ${uid}); Hearth will not use keys someone else can replace. Fix: rm ${this.file}, then \`hearth secrets set NAME\` again`);
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      throw new SecretsError(`${this.file} has mode ${mode.toString(8).padStart(4, '0')}: group or others can read your keys, so Hearth will not use them. Fix: chmod 600 ${this.file} (and consider replacing the keys it holds)`);
    }
    return st;
  }

  private read(): SecretsFile {
    if (!this.inspect()) return { format: 'hearth-secrets', version: 1, secrets: {} };
    let data: unknown;
    try {
      data = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch (err) {
      // The parser's message can quote the file's text, i.e. a key: never pass it on.
      throw new SecretsError(`${this.file} is not valid JSON (${(err as Error).name}); nothing was read from it. Fix: move it away and set the keys again with \`hearth secrets set NAME\``);
    }
    const d = data as Partial<SecretsFile>;
    if (typeof d !== 'object' || d === null || d.format !== 'hearth-secrets' || d.version !== 1 || typeof d.secrets !== 'object' || d.secrets === null) {
      throw new SecretsError(`${this.file} is not a Hearth secrets file (format hearth-secrets, version 1). Fix: move it away and set the keys again with \`hearth secrets set NAME\``);
    }
    for (const [name, s] of Object.entries(d.secrets)) {
      if (typeof s !== 'object' || s === null || typeof s.value !== 'string' || typeof s.setAt !== 'string') {
        throw new SecretsError(`${this.file}: the entry "${name.slice(0, 64)}" is malformed. Fix: \`hearth secrets remove ${name.slice(0, 64)}\` and set it again`);
      }
    }
    return d as SecretsFile;
  }

  /** Replaces the file atomically: a new 0600 file, fsynced, renamed over the old, directory fsynced. */
  private write(data: SecretsFile): void {
    const dir = path.dirname(this.file);
    const tmp = path.join(dir, `.${SECRETS_FILE}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(data, null, 2) + '\n');
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, this.file);
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }

  get(name: string): string | undefined {
    const s = this.read().secrets[name];
    return s && s.value !== '' ? s.value : undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  list(): SecretInfo[] {
    return Object.entries(this.read().secrets)
      .map(([name, s]) => ({ name, setAt: s.setAt, bytes: Buffer.byteLength(s.value) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stores `value` under `name` (replacing an earlier one); returns whether it replaced one. */
  set(name: string, value: string, now = new Date()): boolean {
    checkSecretName(name);
    if (value === '') throw new SecretsError(`the value for "${name}" is empty; nothing was stored`);
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new SecretsError(`the value for "${name}" is longer than ${MAX_SECRET_BYTES} bytes; nothing was stored (is it the right input?)`);
    if (/[\r\n\0]/.test(value)) throw new SecretsError(`the value for "${name}" holds a line break or NUL, which no HTTP header can carry; nothing was stored`);
    const data = this.read();
    const replaced = name in data.secrets;
    data.secrets[name] = { value, setAt: now.toISOString() };
    this.write(data);
    return replaced;
  }

  /** Removes `name`; returns false when it was not set. */
  remove(name: string): boolean {
    checkSecretName(name);
    const data = this.read();
    if (!(name in data.secrets)) return false;
    delete data.secrets[name];
    this.write(data);
    return true;
  }
}

export interface KeyFinding {
  level: 'ok' | 'warning' | 'error';
  provider: string;
  message: string;
  fix?: string;
}

/**
 * Where each HTTP provider of a policy would get its key, for `hearth policy check` and `hearth
 * doctor`: a named secret that is missing is an error (the provider cannot be used); a key only in
 * an environment variable is a warning, because a daemon started by an editor's bridge or
 * restarted after a crash does not have this shell's environment. Names only, never values.
 */
export function providerKeyFindings(
  providers: ReadonlyArray<{ id: string; apiKeySecret?: string; apiKeyEnv?: string }>,
  secrets: SecretStore,
  env: Record<string, string | undefined> = process.env,
): KeyFinding[] {
  const out: KeyFinding[] = [];
  for (const p of providers) {
    if (!p.apiKeySecret && !p.apiKeyEnv) continue;
    if (p.apiKeySecret) {
      let has: boolean;
      try {
        has = secrets.has(p.apiKeySecret);
      } catch (e) {
        out.push({ level: 'error', provider: p.id, message: `provider ${p.id}: the secret "${p.apiKeySecret}" cannot be read: ${(e as Error).message}` });
        continue;
      }
      if (has) {
        out.push({ level: 'ok', provider: p.id, message: `provider ${p.id}: key from the secret "${p.apiKeySecret}" (set, in ${secrets.file})` });
        continue;
      }
      if (p.apiKeyEnv && env[p.apiKeyEnv]) {
        out.push({
          level: 'warning', provider: p.id,
          message: `provider ${p.id}: the secret "${p.apiKeySecret}" is not set; only ${p.apiKeyEnv} in this shell's environment has a key, which a daemon started by an editor or restarted after a crash may not have`,
          fix: `hearth secrets set ${p.apiKeySecret}`,
        });
        continue;
      }
      out.push({ level: 'error', provider: p.id, message: `provider ${p.id}: the secret "${p.apiKeySecret}" (apiKeySecret) is not set, so requests to it fail`, fix: `hearth secrets set ${p.apiKeySecret}` });
      continue;
    }
    const name = p.apiKeyEnv!;
    out.push(env[name]
      ? {
          level: 'warning', provider: p.id,
          message: `provider ${p.id}: the key comes from ${name} (apiKeyEnv), set in this shell; a daemon started by an editor's bridge or restarted after a crash may not have it`,
          fix: `store it once with \`hearth secrets set ${p.id}\` and write apiKeySecret: ${p.id} in the policy`,
        }
      : {
          level: 'warning', provider: p.id,
          message: `provider ${p.id}: ${name} (apiKeyEnv) is not set in this shell; unless the daemon's own environment has it, requests to ${p.id} fail`,
          fix: `store the key with \`hearth secrets set ${p.id}\` and write apiKeySecret: ${p.id} in the policy`,
        });
  }
  return out;
}
