// Memory (issue 7) in the daemon: one MemoryStore over the daemon's store, written by every
// editor, the CLI, tasks and MCP (memory.write), searched full-text + vector, used as context for
// completions (each item used appears in the route plan), and pausable/forgettable per client.
import { ResponseError } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import { workspaceOf, type Session } from './session.js';
import {
  HearthErrorCodes, MemoryAdd, MemoryDidChange, MemoryExport, MemoryForget, MemoryGet, MemoryList, MemoryPause, MemorySearch,
} from './protocol.js';
import { ErrorCodes } from './wire.js';
import { MemoryError, MemoryStore, type MemoryWriter } from '../core/memory/index.js';
import { ModelRegistry } from '../core/models/index.js';
import { TransformersEmbeddingProvider } from '../core/engines/transformers.js';
import type { Provider } from '../core/engines/types.js';

function toResponseError(err: unknown): never {
  if (err instanceof MemoryError) {
    const code = err.code === 'paused' ? HearthErrorCodes.MemoryPaused : err.code === 'not-found' ? HearthErrorCodes.NotFound : ErrorCodes.InvalidParams;
    throw new ResponseError(code, err.message);
  }
  throw err;
}

function writerOf(s: Session): MemoryWriter {
  return { id: s.id, name: s.identity.name, version: s.identity.version };
}

export const memoryFeature: Feature = async (d: Daemon) => {
  // The first registered embedding model computes vectors in the background; without one,
  // full-text search alone works.
  let embedder: Provider | undefined;
  try {
    const entry = (await new ModelRegistry(d.paths.home).list()).find((m) => m.purpose === 'embedding');
    if (entry) embedder = new TransformersEmbeddingProvider({ modelDir: entry.path, id: `transformers:${entry.id}` });
  } catch (err) {
    d.log('warning', `memory: no embedding model (${(err as Error).message}); full-text search only`);
  }
  const memory = await MemoryStore.open(d.store, { ...(embedder ? { embedder } : {}), log: (level, m) => d.log(level, `memory: ${m}`) });
  d.memory = memory;
  d.onDispose(async () => {
    await memory.close();
    await embedder?.dispose();
  });
  let lastReport = 0;
  memory.onEmbeddingProgress((p) => {
    const now = Date.now();
    if (p.done === p.total || now - lastReport > 2000) {
      lastReport = now;
      d.log('info', `memory: embedded ${p.done}/${p.total}`);
    }
  });

  const changed = (change: 'add' | 'forget' | 'pause', id?: string, client?: string): void => {
    for (const s of d.sessions.values()) s.sendNotification(MemoryDidChange.method, { change, ...(id ? { id } : {}), ...(client ? { client } : {}) });
  };
  const scope = (s: Session, workspace: string | null | undefined): string | null => (workspace === undefined ? workspaceOf(s) : workspace);

  d.router.onRequest(MemoryAdd, async (p, s) => {
    const item = await memory.add({
      text: p.text,
      ...(p.kind ? { kind: p.kind } : {}),
      workspace: scope(s, p.workspace),
      ...(p.file ? { file: { uri: p.file.uri, range: p.file.range ?? null } } : {}),
      ...(p.requestKey ? { requestKey: p.requestKey } : {}),
    }, writerOf(s)).catch(toResponseError);
    changed('add', item.id, s.identity.name);
    return item as unknown as Record<string, unknown> & { id: string; seq: number; kind: string; text: string };
  });
  d.router.onRequest(MemorySearch, async (p, s) => {
    const r = await memory.search(p.query, {
      ...(p.allWorkspaces ? { allWorkspaces: true } : { workspace: scope(s, p.workspace) }),
      ...(p.limit ? { limit: p.limit } : {}),
      ...(p.mode ? { mode: p.mode } : {}),
    }).catch(toResponseError);
    return r as unknown as { hits: Array<{ item: { id: string; seq: number; kind: string; text: string }; score: number }>; mode: string };
  });
  d.router.onRequest(MemoryList, (p, s) => {
    const items = memory.list({
      ...(p?.client ? { client: p.client } : {}),
      ...(p?.allWorkspaces ? {} : p?.workspace !== undefined || workspaceOf(s) ? { workspace: scope(s, p?.workspace) } : {}),
      ...(p?.limit ? { limit: p.limit } : {}),
    });
    return { items: items as unknown as Array<{ id: string; seq: number; kind: string; text: string }>, paused: memory.pausedClients() as unknown as Record<string, unknown>[] };
  });
  d.router.onRequest(MemoryGet, ({ id }) => {
    const item = memory.get(id);
    if (!item) throw new ResponseError(HearthErrorCodes.NotFound, `no memory item ${id}`);
    return item as unknown as { id: string; seq: number; kind: string; text: string };
  });
  d.router.onRequest(MemoryForget, async ({ id }) => {
    const item = await memory.forget(id).catch(toResponseError);
    // Whatever the completion engine learned from it goes too.
    (d.models?.localEngine('ngram')?.provider as { forget?: (uri: string) => void } | undefined)?.forget?.(`memory:${id}`);
    changed('forget', id);
    return item as unknown as { id: string; seq: number; kind: string; text: string };
  });
  d.router.onRequest(MemoryPause, async ({ client, pause }) => {
    if (pause) await memory.pause(client).catch(toResponseError);
    else await memory.resume(client).catch(toResponseError);
    changed('pause', undefined, client);
    return { client, paused: memory.isPaused(client) };
  });
  d.router.onRequest(MemoryExport, () => memory.exportItems() as unknown as { format: string; version: number; items: Array<{ id: string; seq: number; kind: string; text: string }> });
};
