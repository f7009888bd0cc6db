// Model downloads through the daemon: `hearth/models/add` fetches a URL through the egress gate
// (the one path off the machine), so a download is planned against the policy (feature
// `model-download`, the host as provider), confirmed in the requesting client where policy says
// ask, and written to the egress ledger, hop by hop across redirects. Then the file is checked,
// registered and the engines reloaded. Progress goes to the client as LSP `$/progress`.
import { ResponseError } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import { mib } from './format.js';
import { Lsp, ModelsAdd, type Params } from './protocol.js';
import { workspaceOf } from './session.js';
import { ErrorCodes } from './wire.js';
import { gatedFetch } from '../core/egress/index.js';
import { ModelRegistry, type DownloadProgress } from '../core/models/index.js';
import { planDownload } from '../core/routing/plan.js';

type ProgressValue = Params<typeof Lsp.progress>['value'];

export const modelsFeature: Feature = (d: Daemon) => {
  d.router.onRequest(ModelsAdd, async (p, s, token) => {
    const gate = d.gate;
    const router = d.models;
    const reload = d.reloadModels;
    if (!gate || !router || !reload) throw new ResponseError(ErrorCodes.InternalError, 'model routing is not running in this daemon');
    const root = workspaceOf(s);
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    const progress = (value: ProgressValue): void => {
      if (p.workDoneToken !== undefined) s.sendNotification(Lsp.progress.method, { token: p.workDoneToken, value });
    };
    let lastAt = 0;
    let lastPct = -1;
    const onProgress = (x: DownloadProgress): void => {
      const pct = x.fraction !== undefined ? Math.floor(x.fraction * 100) : undefined;
      const now = Date.now();
      if (pct === lastPct && now - lastAt < 1000) return;
      if (pct !== 100 && now - lastAt < 100) return;
      lastAt = now;
      lastPct = pct ?? -1;
      progress({ kind: 'report', message: `${mib(x.receivedBytes)}${x.totalBytes !== undefined ? ` of ${mib(x.totalBytes)}` : ''}`, ...(pct !== undefined ? { percentage: pct } : {}) });
    };
    progress({ kind: 'begin', title: `Downloading ${p.url}`, cancellable: true });
    let outcome = 'failed';
    try {
      const registry = new ModelRegistry(d.paths.home);
      const model = await registry.addModel(p.url, {
        purpose: p.purpose ?? 'completion',
        ...(p.id !== undefined ? { id: p.id } : {}),
        ...(p.sha256 !== undefined ? { sha256: p.sha256 } : {}),
        ...(p.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: p.memoryBudgetBytes } : {}),
        signal: abort.signal,
        onProgress,
        // The policy is read per hop, so a redirect to another host is judged as that host.
        fetch: gatedFetch(gate, {
          planFor: (url) => planDownload(url, router.policy(root), { client: s.label, ...(root ? { workspaceRoot: root } : {}) }),
        }),
      });
      const engines = await reload();
      outcome = `added ${model.id}`;
      d.log('info', `[${s.label}] downloaded model ${model.id} from ${p.url} (${mib(model.sizeBytes)})`);
      return { model, engines };
    } catch (err) {
      outcome = (err as Error).message;
      throw err; // a ModelRegistryError keeps its code and reasons (server/errors.ts)
    } finally {
      progress({ kind: 'end', message: outcome });
    }
  });
};
