// The daemon's own settings, per session (declared in server/settings.ts). Read, a later source
// winning key by key, from:
//   1. the declared defaults;
//   2. `initializationOptions.hearth` of the editor's LSP initialize (the bridge replays it to a
//      restarted daemon);
//   3. the `hearth` section of workspace/configuration, asked for after `initialized` (and on a
//      didChangeConfiguration without settings) when the editor declared
//      capabilities.workspace.configuration, or the `hearth` object a didChangeConfiguration pushes.
// Every value is checked against its declaration: a bad value or an unknown key is shown to that
// editor (window/showMessage, a warning, once per distinct message) and the default (or the value
// of the earlier source) stays. Features read the result as `session.settings`.
import type { Daemon, Feature } from './daemon.js';
import type { Session } from './session.js';
import { Lsp, type Params } from './protocol.js';
import { DAEMON_DEFAULTS, readDaemonSettings, type DaemonSettingKey, type DaemonSettings, type SettingValue } from './settings.js';

type Layer = Partial<Record<DaemonSettingKey, SettingValue>>;

interface SessionConfig {
  fromInit: Layer;
  live: Layer;
  canPull: boolean;
  /** Warnings already shown to this editor (an editor that sends the same bad value again is not told again). */
  shown: Set<string>;
  /** Bumped per read: an older pull answering late does not undo a newer push. */
  generation: number;
}

/** How long an editor may take to answer workspace/configuration before the daemon stops waiting. */
const PULL_TIMEOUT_MS = 10_000;
const WARNING = 2; // LSP MessageType.Warning

function sectionIn(v: unknown): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)['hearth'] : undefined;
}

export const configFeature: Feature = (d: Daemon) => {
  const configs = new WeakMap<Session, SessionConfig>();

  const apply = (s: Session, c: SessionConfig): void => {
    s.settings = Object.freeze({ ...DAEMON_DEFAULTS, ...c.fromInit, ...c.live }) as DaemonSettings;
  };

  const warn = (s: Session, c: SessionConfig, problems: Array<{ message: string }>): void => {
    for (const p of problems) {
      if (c.shown.has(p.message)) continue;
      c.shown.add(p.message);
      d.log('warning', `[${s.label}] ${p.message}`);
      s.sendNotification(Lsp.showMessage.method, { type: WARNING, message: p.message } satisfies Params<typeof Lsp.showMessage>);
    }
  };

  /** A `hearth` section from workspace/configuration or a didChangeConfiguration push replaces the live layer. */
  const applyLive = (s: Session, c: SessionConfig, section: unknown, source: string): void => {
    const { values, problems } = readDaemonSettings(section, source, { ...c.fromInit });
    c.live = values;
    apply(s, c);
    warn(s, c, problems);
  };

  const pull = async (s: Session, c: SessionConfig): Promise<void> => {
    if (!c.canPull) return;
    const mine = ++c.generation;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        s.sendRequest<unknown[]>(Lsp.configuration.method, { items: [{ section: 'hearth' }] } satisfies Params<typeof Lsp.configuration>),
        new Promise<never>((_r, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${PULL_TIMEOUT_MS} ms`)), PULL_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
      if (mine !== c.generation || !s.ready) return;
      applyLive(s, c, Array.isArray(answer) ? answer[0] : undefined, 'workspace/configuration');
    } catch (err) {
      // The editor could not say: the settings it sent at initialize (or the defaults) stay.
      d.log('info', `[${s.label}] workspace/configuration: ${(err as Error).message}; keeping its initializationOptions`);
    } finally {
      clearTimeout(timer);
    }
  };

  d.onInitialize((s, params) => {
    const caps = params.capabilities as { workspace?: { configuration?: unknown } };
    const c: SessionConfig = { fromInit: {}, live: {}, canPull: caps.workspace?.configuration === true, shown: new Set(), generation: 0 };
    configs.set(s, c);
    const { values, problems } = readDaemonSettings(sectionIn(params.initializationOptions), 'initializationOptions');
    c.fromInit = values;
    apply(s, c);
    warn(s, c, problems);
  });

  d.onInitialized((s) => {
    const c = configs.get(s);
    if (c) void pull(s, c);
  });

  d.router.onNotification(Lsp.didChangeConfiguration, (params, s) => {
    const c = configs.get(s);
    if (!c) return; // before initialize: nothing to apply it to
    const section = sectionIn(params.settings);
    if (section === undefined || section === null) return void pull(s, c);
    c.generation++;
    applyLive(s, c, section, 'workspace/didChangeConfiguration');
  });
};
