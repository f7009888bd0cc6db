// The user's model registry: `HEARTH_HOME/models.json`, plus downloaded files in `HEARTH_HOME/models/`.
// A model is checked (core/models/check) before it is registered; an incompatible one is refused with
// the reasons and, when it was downloaded, its file is deleted again.
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fsyncDir, writeFileSynced } from '../store/fsutil.js';
import { checkModel, type CheckOptions, type ModelCheck, type ModelFormat, type ModelPurpose } from './check.js';
import { DownloadError, downloadFile, hashFile, type DownloadProgress } from './download.js';

export interface ModelEntry {
  id: string;
  purpose: ModelPurpose;
  format: ModelFormat;
  /** absolute path of the GGUF file or ONNX model directory */
  path: string;
  /** what the user added: a local path or the URL it was downloaded from */
  source: string;
  /** true when Hearth downloaded the file into its models directory (and deletes it on remove) */
  managed: boolean;
  sizeBytes: number;
  sha256?: string;
  architecture?: string;
  contextLength?: number;
  embeddingLength?: number;
  addedAt: string;
}

export interface AddModelOptions {
  purpose: ModelPurpose;
  /** registry id; defaults to the file or directory name */
  id?: string;
  /** expected sha256 of the file: verified for downloads and for local GGUF files */
  sha256?: string;
  memoryBudgetBytes?: number;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** how to fetch a URL (the daemon passes one that goes through its egress gate for this client) */
  fetch?: typeof globalThis.fetch;
}

export type ModelRegistryErrorCode = 'refused' | 'exists' | 'not-found' | 'bad-source' | 'corrupt-registry' | 'checksum' | 'egress-refused' | 'cancelled';

export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError';
  constructor(readonly code: ModelRegistryErrorCode, message: string, readonly reasons: string[] = [], options?: { cause?: unknown }) {
    super(message, options);
  }
}

interface RegistryFile { version: 1; models: ModelEntry[] }

const LOCKS = new Map<string, Promise<unknown>>();
/** Files being downloaded by this process (a second download into the same file is refused). */
const DOWNLOADING = new Set<string>();

export class ModelRegistry {
  readonly file: string;
  readonly modelsDir: string;

  /** `home` is HEARTH_HOME; `fetch` lets the daemon route downloads through its egress gate. */
  constructor(readonly home: string, private readonly opts: { fetch?: typeof globalThis.fetch } = {}) {
    this.file = join(home, 'models.json');
    this.modelsDir = join(home, 'models');
  }

  async list(): Promise<ModelEntry[]> {
    return (await this.read()).models;
  }

  async get(id: string): Promise<ModelEntry | undefined> {
    return (await this.read()).models.find((m) => m.id === id);
  }

  /** Checks a registered model again (memory free changes; the file may have been replaced). */
  async check(id: string, opts: Omit<CheckOptions, 'purpose'> = {}): Promise<ModelCheck> {
    const entry = await this.get(id);
    if (!entry) throw new ModelRegistryError('not-found', `no model '${id}' is registered; see the list of models`);
    return checkModel(entry.path, { ...opts, purpose: entry.purpose });
  }

  /**
   * Registers a local GGUF file / ONNX model directory (in place), or downloads an http(s) URL of a
   * GGUF file into the models directory, resuming a previous partial download. Refuses, with the
   * check's reasons, a model that is not compatible with `purpose`.
   */
  async addModel(source: string, opts: AddModelOptions): Promise<ModelEntry> {
    const isUrl = /^https?:\/\//i.test(source);
    if (!isUrl && /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
      throw new ModelRegistryError('bad-source', `cannot add '${source}': give a local path or an http(s) URL`);
    }
    const name = isUrl ? fileNameFromUrl(source) : basename(resolve(source));
    const id = opts.id ?? name.replace(/\.gguf$/i, '');
    if (!/^[\w.@+-]{1,128}$/.test(id)) {
      throw new ModelRegistryError('bad-source', `'${id}' is not a usable model id (letters, digits, . _ - + @; pass another id)`);
    }
    const path = isUrl ? join(this.modelsDir, name) : resolve(source);
    const taken = (reg: RegistryFile): void => {
      if (reg.models.some((m) => m.id === id)) {
        throw new ModelRegistryError('exists', `a model '${id}' is already registered; remove it first or pass another id`);
      }
      if (isUrl && reg.models.some((m) => m.path === path)) {
        throw new ModelRegistryError('exists', `${path} already belongs to a registered model; remove it first`);
      }
    };
    taken(await this.read());
    // A download runs outside the registry lock (it can take minutes; other adds and removes go on),
    // but never twice into the same file.
    if (isUrl && DOWNLOADING.has(path)) throw new ModelRegistryError('exists', `${path} is already being downloaded`);
    if (isUrl) DOWNLOADING.add(path);
    try {
      let sha256: string | undefined;
      if (isUrl) {
        await mkdir(this.modelsDir, { recursive: true });
        try {
          const fetch = opts.fetch ?? this.opts.fetch;
          if (!fetch) throw new DownloadError('refused', 'downloads go through the egress gate, and none is wired here: add a URL with `hearth models add URL`, which asks the daemon');
          const res = await downloadFile({
            url: source, dest: path, fetch,
            ...(opts.sha256 !== undefined ? { sha256: opts.sha256 } : {}),
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
          sha256 = res.sha256;
        } catch (err) {
          const dl = (err as { code?: string }).code;
          const code = dl === 'checksum' ? 'checksum' : dl === 'refused' ? 'egress-refused' : dl === 'cancelled' ? 'cancelled' : 'bad-source';
          throw new ModelRegistryError(code, (err as Error).message, [], { cause: err });
        }
      } else if (opts.sha256 !== undefined) {
        try {
          sha256 = await hashFile(path);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') { // a missing path is reported by the check below
            throw new ModelRegistryError('bad-source', `cannot verify a sha256 for ${path} (${code ?? (err as Error).message}); ` +
              'a checksum applies to a single model file');
          }
        }
        if (sha256 !== undefined && sha256 !== opts.sha256.trim().toLowerCase()) {
          throw new ModelRegistryError('checksum', `checksum mismatch for ${path}: expected sha256 ${opts.sha256}, got ${sha256}`);
        }
      }
      const check = await checkModel(path, {
        purpose: opts.purpose,
        ...(opts.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: opts.memoryBudgetBytes } : {}),
      });
      if (!check.ok) {
        if (isUrl) await rm(path, { force: true });
        throw new ModelRegistryError('refused',
          `${source} was not added: ${check.reasons.join('; ')}${isUrl ? ' (the downloaded file was deleted)' : ''}`, check.reasons);
      }
      if (check.info.format === 'unknown') throw new ModelRegistryError('bad-source', `${source} is not a model Hearth can read`);
      const entry: ModelEntry = {
        id, purpose: opts.purpose, format: check.info.format, path, source, managed: isUrl,
        sizeBytes: check.info.sizeBytes, addedAt: new Date().toISOString(),
        ...(sha256 !== undefined ? { sha256 } : {}),
        ...(check.info.architecture !== undefined ? { architecture: check.info.architecture } : {}),
        ...(check.info.contextLength !== undefined ? { contextLength: check.info.contextLength } : {}),
        ...(check.info.embeddingLength !== undefined ? { embeddingLength: check.info.embeddingLength } : {}),
      };
      // Registered under the lock, against the registry as it is now (another add may have won the id).
      return await this.serialized(async () => {
        const reg = await this.read();
        taken(reg);
        await this.write({ version: 1, models: [...reg.models, entry] });
        return entry;
      });
    } finally {
      if (isUrl) DOWNLOADING.delete(path);
    }
  }

  /** Unregisters `id`; a downloaded (managed) file is deleted too. Returns false when `id` was not registered. */
  removeModel(id: string): Promise<boolean> {
    return this.serialized(async () => {
      const reg = await this.read();
      const entry = reg.models.find((m) => m.id === id);
      if (!entry) return false;
      await this.write({ version: 1, models: reg.models.filter((m) => m.id !== id) });
      if (entry.managed) await rm(entry.path, { force: true, recursive: true });
      return true;
    });
  }

  /** One registry change at a time per registry file in this process (every instance shares it). */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = (LOCKS.get(this.file) ?? Promise.resolve()).then(fn);
    LOCKS.set(this.file, run.catch(() => undefined));
    return run;
  }

  private async read(): Promise<RegistryFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, models: [] };
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new ModelRegistryError('corrupt-registry',
        `${this.file} is not valid JSON (${(err as Error).message}); fix it or move it aside to start an empty registry`);
    }
    const models = (data as { models?: unknown }).models;
    if (!Array.isArray(models) || (data as { version?: unknown }).version !== 1 ||
      !models.every((m) => typeof m?.id === 'string' && typeof m?.path === 'string' && (m?.purpose === 'completion' || m?.purpose === 'embedding'))) {
      throw new ModelRegistryError('corrupt-registry',
        `${this.file} is not a version 1 model registry ({"version":1,"models":[{id, path, purpose, ...}]}); fix it or move it aside`);
    }
    return data as RegistryFile;
  }

  private async write(reg: RegistryFile): Promise<void> {
    await mkdir(this.home, { recursive: true });
    // Durable like the store's files: the new registry is on disk before it replaces the old one,
    // and the rename is on disk before the caller is told the model was added or removed.
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFileSynced(tmp, Buffer.from(JSON.stringify(reg, null, 2) + '\n', 'utf8'));
    await rename(tmp, this.file);
    await fsyncDir(this.home);
  }
}

function fileNameFromUrl(url: string): string {
  let name: string;
  try {
    name = decodeURIComponent(basename(new URL(url).pathname));
  } catch {
    throw new ModelRegistryError('bad-source', `'${url}' is not a valid URL`);
  }
  if (!/\.gguf$/i.test(name) || !/^[\w.@+-]+$/.test(name)) {
    throw new ModelRegistryError('bad-source',
      `cannot download '${url}': only single GGUF files (a URL ending in a safe *.gguf name) can be downloaded; ` +
      'for an ONNX embedding model, download its directory yourself and add the local path');
  }
  return name;
}
