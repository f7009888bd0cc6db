// Model download: progress, resume with HTTP Range after a dropped connection (or in a later run,
// from the `.part` file left behind), and sha256 verification before the file takes its final name.
// The request function is injectable so the daemon can send it through its egress gate.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../store/fsutil.js';

export interface DownloadProgress {
  stage: 'download';
  receivedBytes: number;
  totalBytes?: number;
  fraction?: number;
}

export interface DownloadOptions {
  url: string;
  /** final path; the download is written to `dest + '.part'` until it is complete and verified */
  dest: string;
  /** expected sha256 (hex); a mismatch deletes the download and rejects */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** further attempts after a failed one, each resuming where the last stopped (default 3) */
  retries?: number;
  /** an attempt that receives nothing for this long is dropped and retried (default 30 000 ms) */
  idleTimeoutMs?: number;
  /** How to reach the network: the egress gate's fetch in the daemon (core never opens HTTP itself). */
  fetch: typeof globalThis.fetch;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** attempts that continued a partial file with a Range request */
  resumes: number;
}

export type DownloadErrorCode = 'http' | 'network' | 'checksum' | 'cancelled' | 'refused';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(readonly code: DownloadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const doFetch = opts.fetch;
  const part = `${opts.dest}.part`;
  const retries = opts.retries ?? 3;
  const expected = opts.sha256?.trim().toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) {
    throw new DownloadError('checksum', `'${opts.sha256}' is not a sha256 checksum (64 hex digits)`);
  }
  let resumes = 0;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (opts.signal?.aborted) throw new DownloadError('cancelled', `download of ${opts.url} cancelled; the partial file ${part} is kept for a resume`);
    const offset = await sizeOf(part);
    if (offset > 0) resumes++;
    try {
      const done = await attemptDownload(doFetch, opts, part, offset);
      if (done) break;
    } catch (err) {
      if (err instanceof DownloadError && (err.code === 'http' || err.code === 'cancelled')) throw err;
      // Refused by policy or by the user at the egress gate: asking again would not change that.
      if ((err as Error).name === 'EgressRefusedError') throw new DownloadError('refused', (err as Error).message, { cause: err });
      if (attempt === retries) {
        throw new DownloadError('network', `download of ${opts.url} failed after ${retries + 1} attempts ` +
          `(${(err as Error).message}); run the same command again to resume from ${part}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  const sha256 = await hashFile(part);
  if (expected !== undefined && sha256 !== expected) {
    await unlink(part).catch(() => undefined);
    throw new DownloadError('checksum', `checksum mismatch for ${opts.url}: expected sha256 ${expected}, got ${sha256}; ` +
      'the download was deleted. Check the checksum you gave, or the source serving the file');
  }
  // On disk before it takes its final name (a registry entry written next must not point at a file
  // a power cut could leave short).
  const h = await open(part, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(part, opts.dest);
  await fsyncDir(dirname(opts.dest));
  return { path: opts.dest, bytes: await sizeOf(opts.dest), sha256, resumes };
}

/** One request. Returns true when the whole file is in `part`; throws on a dropped connection. */
async function attemptDownload(doFetch: typeof globalThis.fetch, opts: DownloadOptions, part: string, offset: number): Promise<boolean> {
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => ctl.abort(new Error(`nothing received for ${idleMs} ms`)), idleMs);
  };
  try {
    arm();
    const res = await doFetch(opts.url, {
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      signal: ctl.signal,
      redirect: 'follow',
    });
    let start = 0;
    if (res.status === 206) {
      start = Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN);
      if (start !== offset) throw new Error(`server resumed at byte ${start}, not ${offset}`);
    } else if (res.status === 416 && offset > 0) {
      const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN);
      await res.body?.cancel();
      if (total === offset) return true; // the partial file was already complete
      await unlink(part);
      throw new Error(`server refused to resume at byte ${offset} of ${total}; starting over`);
    } else if (!res.ok) {
      await res.body?.cancel();
      throw new DownloadError('http', `GET ${opts.url} answered ${res.status} ${res.statusText}; check the URL`);
    }
    // 200 to a Range request: the server ignores ranges, so the file starts over
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? start + length : undefined;
    let received = start;
    const report = (): void => opts.onProgress?.({
      stage: 'download', receivedBytes: received,
      ...(total !== undefined ? { totalBytes: total, fraction: total > 0 ? received / total : 1 } : {}),
    });
    report();
    if (!res.body) throw new Error('empty response body');
    // Each chunk is written before the next is read, so whatever arrived before a dropped connection
    // is on disk and the next attempt resumes exactly there.
    const file = await open(part, start > 0 ? 'a' : 'w');
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        received += chunk.length;
        arm();
        report();
      }
    } finally {
      await file.close();
    }
    if (total !== undefined && received < total) throw new Error(`connection closed after ${received} of ${total} bytes`);
    return true;
  } catch (err) {
    if (opts.signal?.aborted) throw new DownloadError('cancelled', `download of ${opts.url} cancelled; the partial file ${part} is kept for a resume`);
    throw err;
  } finally {
    if (idle) clearTimeout(idle);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
