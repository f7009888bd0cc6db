// Every feature the daemon serves, wired in one place. A feature registers its handlers on the
// daemon's router and its clean-up with daemon.onDispose.
import fs from 'node:fs';
import path from 'node:path';
import { ResponseError } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import { ExportState, Lsp, RouteCurrent, RouteExplain } from './protocol.js';
import { NgramProvider } from '../core/engines/ngram.js';
import { CompletionService } from '../core/completion.js';
import { ErrorCodes } from './wire.js';

const exportFeature: Feature = (d: Daemon) => {
  d.router.onRequest(ExportState, ({ path: file }) => {
    if (!path.isAbsolute(file)) throw new ResponseError(ErrorCodes.InvalidParams, 'params.path must be absolute (the CLI resolves it for you)');
    const data = d.store.exportState();
    const text = JSON.stringify(data);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, file);
    const tables = Object.values(data.tables);
    return { path: file, bytes: Buffer.byteLength(text), tables: tables.length, rows: tables.reduce((n, t) => n + t.rows.length, 0) };
  });
};

/** Ghost-text completions from the embedded n-gram engine, learning from every editor's buffers. */
const completionFeature: Feature = (d: Daemon) => {
  const ngram = new NgramProvider();
  d.documents.onChange((e) => {
    const key = `${e.clientId} ${e.uri}`;
    if (e.kind === 'close') ngram.forget(key);
    else ngram.learn(key, e.text ?? '');
  });
  const service = new CompletionService(d.documents, ngram);
  d.completions = service;
  d.router.onRequest(Lsp.inlineCompletion, async ({ textDocument, position }, s, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    let r;
    try {
      r = await service.complete(s.id, textDocument.uri, position.line, position.character, abort.signal);
    } catch (err) {
      throw new ResponseError(ErrorCodes.InvalidParams, (err as Error).message);
    }
    s.sendNotification(RouteCurrent.method, r.route);
    if (!r.text) return { items: [] };
    return { items: [{ insertText: r.text, range: { start: position, end: position } }] };
  });
  d.router.onRequest(RouteExplain, ({ textDocument, position }, s) => {
    let c;
    try {
      c = service.assemble(s.id, textDocument.uri, position.line, position.character);
    } catch (err) {
      throw new ResponseError(ErrorCodes.InvalidParams, (err as Error).message);
    }
    return {
      route: service.route(),
      decision: 'allow',
      rule: 'default: embedded engines run locally',
      pieces: c.pieces.map((p) => ({ source: p.source, bytes: p.bytes, dataClass: p.dataClass })),
    };
  });
};

export const FEATURES: Feature[] = [exportFeature, completionFeature];
