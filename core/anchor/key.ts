// The device key: an Ed25519 key pair that signs this home's checkpoints. The private key lives
// in its own file, $HEARTH_HOME/keys/device.key (PKCS#8 PEM, 0600, in a 0700 directory), never in
// the store and never in an export; a key file that group or others can read, or that is not
// ours, is refused rather than used.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const KEYS_DIR = 'keys';
export const DEVICE_KEY_FILE = 'device.key';
export const DEVICE_PUB_FILE = 'device.pub';

export class AnchorError extends Error {
  constructor(message: string, readonly fix: string) {
    super(`${message}\n  fix: ${fix}`);
    this.name = 'AnchorError';
  }
}

export interface DeviceKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as base64 SPKI DER (what checkpoints carry). */
  publicKeyB64: string;
  /** sha256 of the SPKI DER, first 16 hex digits: names the device in messages. */
  fingerprint: string;
  file: string;
}

export function keyPaths(home: string): { dir: string; key: string; pub: string } {
  const dir = path.join(home, KEYS_DIR);
  return { dir, key: path.join(dir, DEVICE_KEY_FILE), pub: path.join(dir, DEVICE_PUB_FILE) };
}

export function fingerprintOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function publicKeyFromB64(b64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
}

/** Refuses a path that is a symlink, not ours, or reachable by group/others beyond `allowed`. */
function inspect(file: string, kind: 'dir' | 'file'): void {
  const st = fs.lstatSync(file);
  if (st.isSymbolicLink()) throw new AnchorError(`refusing to use ${file}: it is a symlink`, `rm ${file}  (then \`hearth anchor reset\` re-anchors with a new key)`);
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile()) throw new AnchorError(`refusing to use ${file}: it is not a ${kind === 'dir' ? 'directory' : 'regular file'}`, `move ${file} away`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new AnchorError(`refusing to use ${file}: it is owned by uid ${st.uid}, not by you (uid ${uid})`, `chown ${uid} ${file}`);
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    throw new AnchorError(
      `refusing to use ${file}: it has mode ${mode.toString(8).padStart(4, '0')}, so group or others can ${kind === 'dir' ? 'reach' : 'read'} the device key; ` +
        `Hearth did not use it, and nothing was signed with it`,
      `chmod ${kind === 'dir' ? 700 : 600} ${file}  (if someone else may have read it, treat its checkpoints as forgeable: \`hearth anchor reset\` after moving it away makes a new key)`,
    );
  }
}

function load(file: string): DeviceKey {
  inspect(path.dirname(file), 'dir');
  inspect(file, 'file');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AnchorError(`the device key ${file} cannot be read as a PEM private key (${(e as Error).message})`, `move ${file} away, then run \`hearth anchor reset\``);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AnchorError(`the device key ${file} is a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, `move ${file} away, then run \`hearth anchor reset\``);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    fingerprint: fingerprintOf(publicKey),
    file,
  };
}

/** The device key, or null when this home has none yet. Refuses a key others can read. */
export function readDeviceKey(home: string): DeviceKey | null {
  const { key } = keyPaths(home);
  if (!fs.existsSync(key)) return null;
  return load(key);
}

/** Reads the device key, creating one (exclusive create, fsynced) when the home has none. */
export function ensureDeviceKey(home: string): { key: DeviceKey; created: boolean } {
  const p = keyPaths(home);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(p.key)) return { key: load(p.key), created: false };
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const tmp = `${p.key}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.writeSync(fd, pem);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, p.key); // never replaces a key another process created meanwhile
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    fs.rmSync(tmp, { force: true });
    return { key: load(p.key), created: false };
  }
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(p.pub, publicKey.export({ type: 'spki', format: 'pem' }) as string, { mode: 0o600 });
  const dfd = fs.openSync(p.dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
  return { key: load(p.key), created: true };
}
