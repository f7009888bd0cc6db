// `hearth secrets set|list|remove NAME`: provider keys the daemon holds (core/secrets, docs/secrets.md).
// The CLI writes the home's secrets file directly (0600, atomic replace) and needs no daemon: the
// daemon reads the file each time a provider needs its key. A value is read from the terminal
// without echo, or from stdin when stdin is not a terminal; never from the command line, where
// `ps` and the shell history would see it.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolvePaths } from './paths.js';
import { ensurePrivateDir } from './security.js';
import { CommandError } from './commands.js';
import { SecretStore, checkSecretName, providerKeyFindings, MAX_SECRET_BYTES } from '../core/secrets/index.js';
import { loadUserPolicy, type Policy } from '../core/policy/index.js';

type Out = (s: string) => void;

const USAGE = 'hearth secrets set NAME | list [--json] | remove NAME';

/** Reads a line from the terminal with echo off (raw mode); Ctrl-C cancels. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return resolve(value);
        }
        if (ch === '\u0003') {
          finish();
          return reject(new CommandError('cancelled; nothing was stored'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Everything on stdin, minus one trailing line break (what `echo` or a file adds). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of process.stdin) {
    const b = c as Buffer;
    bytes += b.length;
    if (bytes > MAX_SECRET_BYTES + 2) throw new CommandError(`stdin holds more than ${MAX_SECRET_BYTES} bytes; nothing was stored (is it the right input?)`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function userPolicy(): Promise<Policy | undefined> {
  const file = path.join(resolvePaths().configDir, 'policy.yaml');
  if (!fs.existsSync(file)) return undefined;
  try {
    return await loadUserPolicy(file);
  } catch {
    return undefined; // `hearth policy check` reports it; listing secrets does not depend on it
  }
}

export async function secretsCommand(args: string[], out: Out): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const home = resolvePaths().home;
  const store = new SecretStore(home);
  switch (sub) {
    case 'set': {
      const name = positionals[0];
      if (!name || positionals.length > 1) {
        throw new CommandError(positionals.length > 1
          ? 'hearth secrets set NAME takes the value on the terminal or stdin, never on the command line (where ps and your shell history would see it); nothing was stored'
          : `usage: ${USAGE}`);
      }
      checkSecretName(name);
      ensurePrivateDir(home);
      const value = process.stdin.isTTY ? await readHidden(`value for ${name} (not shown): `) : await readStdin();
      const replaced = store.set(name, value);
      out(`${replaced ? 'replaced' : 'stored'} the secret "${name}" (${Buffer.byteLength(value)} bytes) in ${store.file} (0600); the daemon reads it on the next request that needs it`);
      const policy = await userPolicy();
      const users = policy?.providers.filter((p) => p.apiKeySecret === name).map((p) => p.id) ?? [];
      if (users.length) out(`used by provider(s) ${users.join(', ')}`);
      else out(`no provider in your policy names it yet: add apiKeySecret: ${name} to a provider (docs/secrets.md)`);
      return 0;
    }
    case 'list': {
      const list = store.list();
      const policy = await userPolicy();
      const wanted = new Map<string, string[]>();
      for (const p of policy?.providers ?? []) if (p.apiKeySecret) wanted.set(p.apiKeySecret, [...(wanted.get(p.apiKeySecret) ?? []), p.id]);
      const missing = [...wanted.keys()].filter((n) => !list.some((s) => s.name === n));
      if (values.json) {
        out(JSON.stringify({
          file: store.file,
          secrets: list.map((s) => ({ ...s, usedBy: wanted.get(s.name) ?? [] })),
          missing: missing.map((n) => ({ name: n, usedBy: wanted.get(n) })),
        }, null, 2));
        return 0;
      }
      if (!list.length && !missing.length) out(`no secrets stored (${store.file}); add one with \`hearth secrets set NAME\``);
      for (const s of list) out(`${s.name}  set ${s.setAt}  ${s.bytes} bytes${wanted.has(s.name) ? `  used by ${wanted.get(s.name)!.join(', ')}` : '  (no provider names it)'}`);
      for (const n of missing) out(`${n}  MISSING  named by ${wanted.get(n)!.join(', ')}: run \`hearth secrets set ${n}\``);
      return 0;
    }
    case 'remove': {
      const name = positionals[0];
      if (!name) throw new CommandError(`usage: ${USAGE}`);
      if (!store.remove(name)) throw new CommandError(`no secret "${name}" is stored (see \`hearth secrets list\`)`);
      out(`removed the secret "${name}" from ${store.file}`);
      return 0;
    }
    default:
      throw new CommandError(`usage: ${USAGE}`);
  }
}

/** Lines for `hearth policy check`: where each provider's key comes from (names, never values). */
export function keyReport(policy: Policy, out: Out): void {
  for (const f of providerKeyFindings(policy.providers, new SecretStore(resolvePaths().home))) {
    out(`  ${f.level === 'ok' ? 'ok' : f.level === 'warning' ? 'warning' : 'ERROR'}: ${f.message}${f.fix ? `\n    fix: ${f.fix}` : ''}`);
  }
}
