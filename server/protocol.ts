// The one place every `hearth/*` method is declared. Clients (bridge, CLI, editors, tests) and the
// daemon import these declarations; nobody retypes a method string. Each declaration is data:
// method name, direction, kind, the protocol version it appeared in, a JSON schema (TypeBox) for
// its params (the daemon validates them at the boundary) and its result (checked in tests: the
// daemon checks every result when HEARTH_VALIDATE_RESULTS=1), its vscode-jsonrpc message type
// (`connection.sendRequest(Status.type, {})` infers params and result), and whether a bridge may
// resend it after a reconnect. docs/protocol.md and the Neovim plugin's method table
// (extensions/neovim/lua/hearth/protocol.lua) are generated from them by server/generate-protocol.ts
// (`npm run gen`); test/unit/protocol-generated.test.ts fails when they drift.
// Standard LSP methods the daemon serves are declared in `Lsp` below; their names come from
// vscode-languageserver-protocol.
import { OptionalKind, Type, type Static, type TNull, type TObject, type TOptional, type TSchema } from '@sinclair/typebox';
import { NotificationType, NotificationType0, ParameterStructures, RequestType, RequestType0 } from 'vscode-jsonrpc';
import {
  DidChangeTextDocumentNotification, DidCloseTextDocumentNotification, DidOpenTextDocumentNotification,
  DidSaveTextDocumentNotification, ExitNotification, InitializedNotification, InitializeRequest,
  InlineCompletionRequest, ShutdownRequest, WorkDoneProgressCreateRequest,
  DidChangeWatchedFilesNotification, DidChangeWorkspaceFoldersNotification,
} from 'vscode-languageserver-protocol';
import { ConfigurationRequest, DidChangeConfigurationNotification, ShowMessageNotification } from 'vscode-languageserver-protocol';
import { MEMORY_KINDS } from '../core/memory/types.js';

/** Protocol versions this build speaks. The daemon serves [PROTOCOL_MIN, PROTOCOL_MAX]. */
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 1;

/** Every Hearth method name starts with this (tests build deliberately unknown names from it). */
export const METHOD_PREFIX = 'hearth/';

export type Direction = 'clientToServer' | 'serverToClient';

/** Params that are only ever absent or empty: the method's message type is RequestType0 / NotificationType0. */
type NoParams<P extends TSchema> = P extends TOptional<TNull> ? true
  : P extends TOptional<TObject<infer O>> ? ([keyof O] extends [never] ? true : false) : false;
/** The vscode-jsonrpc request type of a declaration: `sendRequest(X.type, params)` checks params and types the result. */
export type RequestTypeOf<P extends TSchema, R extends TSchema> = NoParams<P> extends true
  ? RequestType0<Static<R>, void> : RequestType<Static<P>, Static<R>, void>;
export type NotificationTypeOf<P extends TSchema> = NoParams<P> extends true ? NotificationType0 : NotificationType<Static<P>>;
type AnyRequestType = RequestType0<any, any> | RequestType<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type AnyNotificationType = NotificationType0 | NotificationType<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RequestDecl<P extends TSchema = TSchema, R extends TSchema = TSchema, T extends AnyRequestType = AnyRequestType> {
  readonly kind: 'request';
  readonly method: string;
  readonly direction: Direction;
  readonly since: number;
  readonly doc: string;
  readonly params: P;
  readonly result: R;
  /** The vscode-jsonrpc message type: RequestTypeOf<P, R> for every declaration made by request(). */
  readonly type: T;
  /**
   * Running it twice has the effect of running it once (reads, overwrites, answers, revokes): a
   * bridge may send it again when the daemon went away before answering. Otherwise the bridge
   * answers the editor with an error instead of repeating an effect that may already have happened.
   */
  readonly idempotent: boolean;
  /**
   * A params field that makes a resend safe although the method is not idempotent: the daemon
   * answers a repeated key with the first result. The bridge fills it in when the editor left it out.
   */
  readonly requestKey?: string;
}

export interface NotificationDecl<P extends TSchema = TSchema, T extends AnyNotificationType = AnyNotificationType> {
  readonly kind: 'notification';
  readonly method: string;
  readonly direction: Direction;
  readonly since: number;
  readonly doc: string;
  readonly params: P;
  /** The vscode-jsonrpc message type: NotificationTypeOf<P> for every declaration made by notification(). */
  readonly type: T;
}

export type Params<D extends { params: TSchema }> = Static<D['params']>;
export type Result<D extends RequestDecl> = Static<D['result']>;

/** True for a params schema that is only ever absent or empty (see NoParams). */
export function takesNoParams(schema: TSchema): boolean {
  if ((schema as unknown as Record<symbol, unknown>)[OptionalKind] !== 'Optional') return false;
  return schema.type === 'null' || (schema.type === 'object' && Object.keys((schema as { properties?: object }).properties ?? {}).length === 0);
}

/** A request declaration; `idempotent` defaults to false (a new method is not resent until someone says it may be). */
function request<P extends TSchema, R extends TSchema>(
  d: Omit<RequestDecl<P, R>, 'kind' | 'type' | 'idempotent'> & { idempotent?: boolean },
): RequestDecl<P, R, RequestTypeOf<P, R>> {
  const type = takesNoParams(d.params) ? new RequestType0(d.method) : new RequestType(d.method, ParameterStructures.byName);
  return { kind: 'request', ...d, idempotent: d.idempotent ?? false, type: type as RequestTypeOf<P, R> };
}
function notification<P extends TSchema>(d: Omit<NotificationDecl<P>, 'kind' | 'type'>): NotificationDecl<P, NotificationTypeOf<P>> {
  const type = takesNoParams(d.params) ? new NotificationType0(d.method) : new NotificationType(d.method, ParameterStructures.byName);
  return { kind: 'notification', ...d, type: type as NotificationTypeOf<P> };
}

// ---------------------------------------------------------------------------------------------
// Shared shapes

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
/** Records the daemon returns may grow fields in a later version; clients ignore what they do not know. */
const Open = { additionalProperties: true } as const;

export const ClientKind = Type.Union([
  Type.Literal('editor'), Type.Literal('cli'), Type.Literal('mcp'), Type.Literal('test'),
]);
export type ClientKind = Static<typeof ClientKind>;

export const ClientIdentity = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  version: Type.String({ maxLength: 64 }),
  kind: ClientKind,
}, { additionalProperties: false });
export type ClientIdentity = Static<typeof ClientIdentity>;

export const OpenDocumentInfo = Type.Object({
  uri: Type.String(),
  languageId: Type.String(),
  version: Type.Integer(),
  bytes: Type.Integer(),
});

export const ClientInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.String(),
  kind: ClientKind,
  connectedAt: Type.String(),
  /** The first documents the client opened (all of them when hearth/status asked for `documents: 'all'`). */
  documents: Type.Array(OpenDocumentInfo),
  /** Every open document of the client, counted, and their UTF-8 bytes (since 1, optional for old daemons). */
  documentCount: Type.Optional(Type.Integer()),
  documentBytes: Type.Optional(Type.Integer()),
});
export type ClientInfo = Static<typeof ClientInfo>;

// ---------------------------------------------------------------------------------------------
// Methods

export const Hello = request({
  method: 'hearth/hello',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'First message of every connection: token, client identity, protocol range, capabilities.',
  params: Type.Object({
    token: Type.String({ minLength: 1, maxLength: 256 }),
    client: ClientIdentity,
    protocol: Type.Object({
      min: Type.Integer({ minimum: 1 }),
      max: Type.Integer({ minimum: 1 }),
    }, { additionalProperties: false }),
    capabilities: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
  }, { additionalProperties: false }),
  result: Type.Object({
    clientId: Type.String(),
    protocol: Type.Integer(),
    daemon: Type.Object({ version: Type.String(), pid: Type.Integer() }),
    capabilities: Type.Record(Type.String(), Type.Boolean()),
  }),
});

export const Status = request({
  method: 'hearth/status',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Daemon version, protocol range, store schema, uptime and every attached client with its open documents '
    + '(counted; listed up to `documents` per client, default 100, or all with "all").',
  params: Type.Optional(Type.Object({
    documents: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Literal('all')])),
  }, { additionalProperties: false })),
  result: Type.Object({
    version: Type.String(),
    pid: Type.Integer(),
    protocol: Type.Object({ min: Type.Integer(), max: Type.Integer() }),
    store: Type.Object({ schemaVersion: Type.Integer(), path: Type.String() }),
    home: Type.String(),
    socket: Type.String(),
    uptimeMs: Type.Integer(),
    clients: Type.Array(ClientInfo),
    /** Completion counters since the daemon started (cache hit rate = cacheHits / requests). */
    completion: Type.Optional(Type.Object({ requests: Type.Integer(), cacheHits: Type.Integer(), superseded: Type.Integer() })),
    /** The workspace index (docs/workspace-index.md): roots, files and bytes indexed, bounds, files skipped and why. */
    workspaceIndex: Type.Optional(Type.Object({
      roots: Type.Array(Type.Object({ root: Type.String(), state: Type.String(), files: Type.Integer(), bytes: Type.Integer(), error: Type.Optional(Type.String()) })),
      files: Type.Integer(),
      bytes: Type.Integer(),
      limits: Type.Object({ maxFiles: Type.Integer(), maxFileBytes: Type.Integer(), maxTotalBytes: Type.Integer() }),
      skipped: Type.Record(Type.String(), Type.Integer()),
      scans: Type.Integer(),
    })),
  }),
});

export const Shutdown = request({
  method: 'hearth/shutdown',
  direction: 'clientToServer',
  since: 1,
  doc: 'Flush the store and stop the daemon. Answers before the daemon exits.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ ok: Type.Boolean() }),
});


export const ExportState = request({
  method: 'hearth/state/export',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Write all state to a file (format documented in core/store/FORMAT.md), 0600.',
  params: Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
  result: Type.Object({ path: Type.String(), bytes: Type.Integer(), tables: Type.Integer(), rows: Type.Integer() }),
});

export const Log = notification({
  method: 'hearth/log',
  direction: 'serverToClient',
  since: 1,
  doc: 'A message the daemon wants the user to see (policy reload errors, store warnings).',
  params: Type.Object({
    level: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')]),
    message: Type.String(),
  }),
});

export const DaemonStopping = notification({
  method: 'hearth/daemon/stopping',
  direction: 'serverToClient',
  since: 1,
  doc: 'Sent to every client just before the daemon closes the connections on a deliberate stop (`hearth stop`, SIGTERM). '
    + 'A bridge that gets it does not restart the daemon (it does after a crash, when this never arrives) and tells its editor.',
  params: Type.Object({ reason: Type.String() }),
});


// ---------------------------------------------------------------------------------------------
// Routing (issue 4/5): what clients show about where a model call runs.

export const Location = Type.Union([Type.Literal('local'), Type.Literal('lan'), Type.Literal('cloud')]);

export const RouteSummary = Type.Object({
  feature: Type.String(),
  provider: Type.String(),
  model: Type.String(),
  location: Location,
  reason: Type.String(),
  /** When the route's chain fell through to this provider, why in a few words ("cloud declined", "cloud HTTP 500"); status lines show it. */
  fallback: Type.Optional(Type.String()),
});
export type RouteSummary = Static<typeof RouteSummary>;

export const RouteCurrent = notification({
  method: 'hearth/route/current',
  direction: 'serverToClient',
  since: 1,
  doc: 'The route the last completion for this client took; editors show `status.text` in the status line and `status.tooltip` on hover.',
  params: Type.Object({
    ...RouteSummary.properties,
    /** The status line as the daemon renders it (server/format.ts routeStatus); older daemons omit it. */
    status: Type.Optional(Type.Object({ text: Type.String(), tooltip: Type.String() })),
  }),
});

const Redactions = Type.Array(Type.Object({ rule: Type.String(), count: Type.Integer() }, Open));
/** Where a piece of context came from (core/routing/plan.ts SourceRef). */
const SourceRef = Type.Object({
  kind: Type.String(),
  uri: Type.String(),
  /** Which editor's buffer, when the text came from an editor. */
  client: Type.Optional(Type.String()),
  /** What the piece is for: prefix, suffix, other buffer, memory item, workspace file. */
  role: Type.Optional(Type.String()),
}, Open);
const PlanPiece = Type.Object({
  source: SourceRef,
  bytes: Type.Integer(),
  /** Bytes after redaction: what would be sent. */
  sentBytes: Type.Integer(),
  dataClass: Type.String(),
  redactions: Redactions,
}, Open);
/** core/routing's RoutePlan without the piece texts (explainPlan). */
const RoutePlanFields = {
  feature: Type.String(),
  client: Nullable(Type.String()),
  workspaceRoot: Nullable(Type.String()),
  provider: Nullable(Type.Object({ id: Type.String(), kind: Type.String(), model: Nullable(Type.String()), location: Location, host: Nullable(Type.String()) }, Open)),
  location: Nullable(Location),
  decision: Type.String(),
  rule: Type.String(),
  reason: Type.String(),
  pieces: Type.Array(PlanPiece),
  bytes: Type.Integer(),
  sentBytes: Type.Integer(),
  redactions: Type.Integer(),
  considered: Type.Array(Type.Object({ provider: Type.String(), location: Nullable(Location), decision: Nullable(Type.String()), skipped: Type.Optional(Type.String()) }, Open)),
  /** The providers of the chain passed over before the chosen one, each with why. */
  fallbacks: Type.Array(Type.Object({ provider: Type.String(), location: Nullable(Location), cause: Type.String(), reason: Type.String() }, Open)),
};

export const RouteExplain = request({
  method: 'hearth/route/explain',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'The route plan a completion at this position would follow (provider, location, rule, why not local, every data piece with source and bytes), without running it.',
  params: Type.Object({
    feature: Type.Optional(Type.Literal('completion')),
    textDocument: Type.Object({ uri: Type.String({ minLength: 1, maxLength: 4096 }) }),
    position: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
  }),
  // `route` is the status-line summary; the rest is core/routing's RoutePlan without piece texts.
  result: Type.Object({
    ...RoutePlanFields,
    route: RouteSummary,
    /** How the provider was picked: a routes entry, the client, or "local first" (the plan's `route`). */
    routedBy: Type.String(),
    /** The plan as text (server/format.ts planLines), what every client shows under its own heading; older daemons omit it. */
    text: Type.Optional(Type.Array(Type.String())),
  }, Open),
});

/** One egress ledger entry (core/egress/ledger.ts EgressLedgerEntry). */
const EgressLedgerEntry = Type.Object({
  id: Type.Integer(),
  time: Type.String(),
  client: Nullable(Type.String()),
  feature: Type.String(),
  provider: Type.String(),
  model: Nullable(Type.String()),
  location: Nullable(Location),
  /** host[:port] the request was (or would have been) sent to. */
  host: Type.String(),
  decision: Type.String(),
  outcome: Type.Union([Type.Literal('sent'), Type.Literal('denied'), Type.Literal('declined'), Type.Literal('failed'), Type.Literal('cancelled')]),
  grant: Nullable(Type.String()),
  rule: Type.String(),
  bytes: Type.Integer(),
  sha256: Type.String(),
  status: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  redactions: Type.Integer(),
  sources: Type.Array(Type.Object({ source: SourceRef, bytes: Type.Integer(), sentBytes: Type.Integer(), dataClass: Type.String(), redactions: Redactions }, Open)),
}, Open);

/** What a hash-chain check found (core/anchor/chain.ts VerifyResult). */
const VerifyResult = Type.Object({
  ok: Type.Boolean(),
  records: Type.Integer(),
  /** The first record that fails (seq 0: the anchor itself). */
  problem: Nullable(Type.Object({ seq: Type.Integer(), kind: Type.String(), message: Type.String() }, Open)),
  /** The signed checkpoint the log was checked against (absent: the chain alone was checked). */
  anchor: Type.Optional(Nullable(Type.Object({ counter: Type.Integer(), time: Type.String(), device: Type.String(), seq: Type.Integer(), hash: Type.String() }, Open))),
  /** Records newer than the checkpoint. */
  unanchored: Type.Optional(Type.Integer()),
}, Open);

export const EgressLog = request({
  method: 'hearth/egress/log',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'The egress ledger, newest first: every attempt to send data off the machine, with bytes, hash, sources and decision.',
  params: Type.Optional(Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
    since: Type.Optional(Type.String()),
  }, { additionalProperties: false })),
  /** lines: the entries as text, one per entry (server/format.ts formatLedger), what every client shows; older daemons omit it. */
  result: Type.Object({ entries: Type.Array(EgressLedgerEntry), lines: Type.Optional(Type.Array(Type.String())) }),
});

export const EgressVerify = request({
  method: 'hearth/egress/verify',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: "Check the egress ledger's hash chain and the signed checkpoint outside the store; names the first bad entry, or the missing tail (expected head vs found).",
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: VerifyResult,
});

export const ModelsReload = request({
  method: 'hearth/models/reload',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Re-read the model registry ($HEARTH_HOME/models.json) after `hearth models add|remove`.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ engines: Type.Array(Type.String()) }),
});

export const ModelsAdd = request({
  method: 'hearth/models/add',
  direction: 'clientToServer',
  since: 1,
  doc: 'Download a model from an http(s) URL through the egress gate (policy, confirmation in the requesting client, ledger; every redirect hop too), '
    + 'check it, register it and load the engines. Progress goes as $/progress to workDoneToken; $/cancelRequest stops it and keeps the partial file for a resume.',
  params: Type.Object({
    url: Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', maxLength: 4096 }),
    purpose: Type.Optional(Type.Union([Type.Literal('completion'), Type.Literal('embedding')])),
    id: Type.Optional(Type.String({ maxLength: 128 })),
    sha256: Type.Optional(Type.String({ maxLength: 64 })),
    memoryBudgetBytes: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    workDoneToken: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Integer()])),
  }, { additionalProperties: false }),
  result: Type.Object({
    /** The registry entry (core/models/registry.ts ModelEntry). */
    model: Type.Object({
      id: Type.String(), purpose: Type.String(), format: Type.String(), path: Type.String(), source: Type.String(), managed: Type.Boolean(),
      sizeBytes: Type.Number(), sha256: Type.Optional(Type.String()), architecture: Type.Optional(Type.String()),
      contextLength: Type.Optional(Type.Integer()), embeddingLength: Type.Optional(Type.Integer()), addedAt: Type.String(),
    }, Open),
    engines: Type.Array(Type.String()),
  }),
});

export const PolicyStatus = request({
  method: 'hearth/policy/status',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Which policy files are in force and the last error, if a reload was refused.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ userFile: Type.String(), lastError: Type.Union([Type.String(), Type.Null()]) }),
});

// Honest prompts (issue 11): the display form of a prompt, made by the daemon's one rule
// (core/text/display.ts, docs/prompts.md). Clients show these strings and warnings, never the raw
// fields: bidi controls, invisible characters and look-alikes arrive escaped as \u{XXXX}.
export const DisplayWarning = Type.Object({
  where: Type.String(),
  kind: Type.String(),
  code: Type.String(),
  name: Type.String(),
  looksLike: Type.Optional(Type.String()),
  count: Type.Integer(),
  message: Type.String(),
}, { additionalProperties: true });
export type DisplayWarning = Static<typeof DisplayWarning>;
const EgressDisplay = Type.Object({
  feature: Type.String(), provider: Type.String(), host: Type.String(), url: Type.Optional(Type.String()),
  reason: Type.String(), rule: Type.Optional(Type.String()), payload: Type.String(), warnings: Type.Array(DisplayWarning),
}, { additionalProperties: true });

export const EgressConfirm = request({
  method: 'hearth/egress/confirm',
  direction: 'serverToClient',
  since: 1,
  idempotent: true,
  doc: 'Ask the user before data leaves the machine: shows provider, host, reason and the exact payload.',
  params: Type.Object({
    feature: Type.String(),
    provider: Type.String(),
    host: Type.String(),
    reason: Type.String(),
    bytes: Type.Integer(),
    payload: Type.String(),
    url: Type.Optional(Type.String()),
    rule: Type.Optional(Type.String()),
    sha256: Type.Optional(Type.String()),
    sources: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    options: Type.Optional(Type.Array(Type.String())),
    /** What to show instead of the raw fields (escaped), with the warnings (since issue 11; older daemons omit it). */
    display: Type.Optional(EgressDisplay),
    /** The ask's id, for a later hearth/egress/answer (issue 13). */
    id: Type.Optional(Type.String()),
  }),
  // 'pending' (issue 13): the client shows the ask without blocking and answers later with
  // hearth/egress/answer; the request that asked is served by the next provider of its chain.
  result: Type.Object({
    decision: Type.Union([Type.Literal('once'), Type.Literal('session'), Type.Literal('always'), Type.Literal('deny'), Type.Literal('pending')]),
  }),
});

export const EgressAnswer = request({
  method: 'hearth/egress/answer',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Answer an egress ask the client showed without blocking (it answered hearth/egress/confirm with pending). '
    + 'once: the next request for that provider goes; session / always: granted; deny: declined for this session (hearth grants lists and revokes it).',
  params: Type.Object({
    id: Type.String({ minLength: 1, maxLength: 128 }),
    decision: Type.Union([Type.Literal('once'), Type.Literal('session'), Type.Literal('always'), Type.Literal('deny')]),
  }, { additionalProperties: false }),
  result: Type.Object({ answered: Type.Boolean() }),
});


// ---------------------------------------------------------------------------------------------
// Standard LSP methods the daemon serves on every connection. Names come from
// vscode-languageserver-protocol; the schemas check only the fields the daemon reads.

const Uri = Type.String({ minLength: 1, maxLength: 4096 });
const Position = Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) });
const Range = Type.Object({ start: Position, end: Position });
const Loose = { additionalProperties: true } as const;

export const Lsp = {
  initialize: request({
    method: InitializeRequest.method, direction: 'clientToServer', since: 1, idempotent: true,
    doc: 'LSP initialize: the client\'s identity (clientInfo) and capabilities.',
    params: Type.Object({
      processId: Type.Union([Type.Integer(), Type.Null()]),
      clientInfo: Type.Optional(Type.Object({ name: Type.String({ maxLength: 128 }), version: Type.Optional(Type.String({ maxLength: 64 })) }, Loose)),
      rootUri: Type.Optional(Type.Union([Uri, Type.Null()])),
      capabilities: Type.Object({}, Loose),
      /** `hearth`: the daemon's settings for this session (server/settings.ts, read by server/config-feature.ts). */
      initializationOptions: Type.Optional(Type.Unknown()),
    }, Loose),
    result: Type.Object({ capabilities: Type.Object({}, Loose), serverInfo: Type.Object({ name: Type.String(), version: Type.String() }) }),
  }),
  initialized: notification({ method: InitializedNotification.method, direction: 'clientToServer', since: 1, doc: 'LSP initialized.', params: Type.Optional(Type.Object({}, Loose)) }),
  shutdown: request({ method: ShutdownRequest.method, direction: 'clientToServer', since: 1, idempotent: true, doc: 'LSP shutdown: ends this client\'s session, not the daemon.', params: Type.Optional(Type.Null()), result: Type.Null() }),
  exit: notification({ method: ExitNotification.method, direction: 'clientToServer', since: 1, doc: 'LSP exit: closes this connection.', params: Type.Optional(Type.Null()) }),
  didOpen: notification({
    method: DidOpenTextDocumentNotification.method, direction: 'clientToServer', since: 1, doc: 'A document opened in the editor.',
    params: Type.Object({ textDocument: Type.Object({ uri: Uri, languageId: Type.String({ maxLength: 128 }), version: Type.Integer(), text: Type.String() }, Loose) }, Loose),
  }),
  didChange: notification({
    method: DidChangeTextDocumentNotification.method, direction: 'clientToServer', since: 1, doc: 'Incremental or full edits.',
    params: Type.Object({
      textDocument: Type.Object({ uri: Uri, version: Type.Integer() }, Loose),
      contentChanges: Type.Array(Type.Union([
        Type.Object({ range: Range, rangeLength: Type.Optional(Type.Integer()), text: Type.String() }, Loose),
        Type.Object({ text: Type.String() }, Loose),
      ])),
    }, Loose),
  }),
  didSave: notification({
    method: DidSaveTextDocumentNotification.method, direction: 'clientToServer', since: 1, doc: 'Saved: the workspace index reads the file again (once the editor closes it).',
    params: Type.Object({ textDocument: Type.Object({ uri: Uri }, Loose) }, Loose),
  }),
  didChangeWatchedFiles: notification({
    method: DidChangeWatchedFilesNotification.method, direction: 'clientToServer', since: 1, doc: 'Files created, changed or deleted on disk: the workspace index follows.',
    params: Type.Object({ changes: Type.Array(Type.Object({ uri: Uri, type: Type.Integer({ minimum: 1, maximum: 3 }) }, Loose), { maxItems: 100_000 }) }, Loose),
  }),
  didChangeWorkspaceFolders: notification({
    method: DidChangeWorkspaceFoldersNotification.method, direction: 'clientToServer', since: 1, doc: 'Workspace folders added or removed: the workspace index follows.',
    params: Type.Object({
      event: Type.Object({
        added: Type.Array(Type.Object({ uri: Uri }, Loose), { maxItems: 1000 }),
        removed: Type.Array(Type.Object({ uri: Uri }, Loose), { maxItems: 1000 }),
      }, Loose),
    }, Loose),
  }),
  didClose: notification({
    method: DidCloseTextDocumentNotification.method, direction: 'clientToServer', since: 1, doc: 'A document closed in the editor.',
    params: Type.Object({ textDocument: Type.Object({ uri: Uri }, Loose) }, Loose),
  }),
  didChangeConfiguration: notification({
    method: DidChangeConfigurationNotification.method, direction: 'clientToServer', since: 1,
    doc: 'Settings changed: `settings.hearth` carries the daemon\'s settings for this session (server/settings.ts); without it the daemon asks with workspace/configuration.',
    params: Type.Object({ settings: Type.Optional(Type.Unknown()) }, Loose),
  }),
  configuration: request({
    method: ConfigurationRequest.method, direction: 'serverToClient', since: 1, idempotent: true,
    doc: 'LSP: the daemon asks for the `hearth` section (its settings for this session, server/settings.ts) after initialized, '
      + 'and on a didChangeConfiguration without settings; only clients that declared capabilities.workspace.configuration.',
    params: Type.Object({ items: Type.Array(Type.Object({ section: Type.Optional(Type.String()), scopeUri: Type.Optional(Uri) }), { maxItems: 16 }) }),
    result: Type.Array(Type.Unknown()),
  }),
  showMessage: notification({
    method: ShowMessageNotification.method, direction: 'serverToClient', since: 1,
    doc: 'LSP: a message the editor shows (a setting the daemon could not use: which, why, the value it uses, where to fix it).',
    params: Type.Object({ type: Type.Integer({ minimum: 1, maximum: 4 }), message: Type.String() }),
  }),
  progress: notification({
    method: '$/progress', direction: 'serverToClient', since: 1,
    doc: 'LSP work-done progress for a request that carried a workDoneToken (model downloads), or for a token the daemon created with window/workDoneProgress/create (background embedding of memory).',
    params: Type.Object({
      token: Type.Union([Type.String(), Type.Integer()]),
      value: Type.Object({
        kind: Type.Union([Type.Literal('begin'), Type.Literal('report'), Type.Literal('end')]),
        title: Type.Optional(Type.String()),
        message: Type.Optional(Type.String()),
        percentage: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
        cancellable: Type.Optional(Type.Boolean()),
      }, Loose),
    }),
  }),
  workDoneProgressCreate: request({
    method: WorkDoneProgressCreateRequest.method, direction: 'serverToClient', since: 1, idempotent: true,
    doc: 'LSP: the daemon asks the editor to show progress under a new token (background embedding of memory); sent only to clients whose '
      + 'initialize declared capabilities.window.workDoneProgress. $/progress begin/report/end follow once the editor answered.',
    params: Type.Object({ token: Type.Union([Type.String(), Type.Integer()]) }),
    result: Type.Null(),
  }),
  inlineCompletion: request({
    method: InlineCompletionRequest.method, direction: 'clientToServer', since: 1, idempotent: true, doc: 'Ghost-text completion at a position (LSP 3.18).',
    params: Type.Object({
      textDocument: Type.Object({ uri: Uri }, Loose),
      position: Position,
      context: Type.Optional(Type.Object({ triggerKind: Type.Integer() }, Loose)),
    }, Loose),
    result: Type.Object({ items: Type.Array(Type.Object({ insertText: Type.String(), range: Type.Optional(Range) }, Loose)) }),
  }),
} as const;

// ---------------------------------------------------------------------------------------------
// Tools (issue 6): scoped capabilities, approvals in the editor, the audit log.

const Loose2 = { additionalProperties: true } as const;
const Choice = Type.Union([Type.Literal('once'), Type.Literal('session'), Type.Literal('always'), Type.Literal('deny')]);
/** How a tool action was decided (core/audit AuditRecordInput['decision']). */
const ToolDecision = Type.Object({
  /** What the policy said. */
  policy: Type.Union([Type.Literal('allow'), Type.Literal('ask'), Type.Literal('deny')]),
  /** The rule or default behind it. */
  rule: Type.String(),
  outcome: Type.Union([Type.Literal('allowed'), Type.Literal('denied')]),
  /** policy: no prompt; grant: an earlier grant; user: answered now; withdrawn / nobody: no user answered. */
  by: Type.Union([Type.Literal('policy'), Type.Literal('grant'), Type.Literal('user'), Type.Literal('withdrawn'), Type.Literal('nobody')]),
  grant: Nullable(Choice),
  approvedBy: Nullable(Type.String()),
  approval: Type.Optional(Type.Object({ asked: Type.Array(Type.String()), via: Nullable(Type.String()), note: Nullable(Type.String()) }, Loose2)),
}, Loose2);
const SandboxProfile = Type.Object({ writable: Type.Array(Type.String()), network: Type.Boolean(), env: Type.Array(Type.String()), protected: Type.Array(Type.String()) }, Loose2);
const ToolResult = Type.Object({
  actionId: Type.String(),
  tool: Type.String(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('error'), Type.Literal('denied')]),
  decision: ToolDecision,
  /** What the tool returned; its shape is the tool's (shell.run: stdout, stderr; fs.read: text; ...). */
  output: Type.Unknown(),
  error: Type.Union([Type.String(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  auditSeq: Type.Integer(),
}, Loose2);
const Proposer = Type.Object({ model: Type.String({ maxLength: 256 }), provider: Type.String({ maxLength: 256 }) }, { additionalProperties: false });
const ApprovalDisplay = Type.Object({
  tool: Type.String(),
  argv: Type.Optional(Type.Array(Type.String())),
  cwd: Type.Optional(Type.String()),
  diff: Type.Optional(Type.String()),
  path: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  host: Type.Optional(Type.String()),
  text: Type.Optional(Type.String()),
  /** The arguments as indented JSON, for tools with no argv and no diff. */
  args: Type.Optional(Type.String()),
  proposer: Type.Object({ model: Type.String(), provider: Type.String() }),
  requester: Type.Object({ name: Type.String(), kind: Type.String() }),
  workspaceRoot: Type.String(),
  reason: Type.String(),
  rationale: Type.Union([Type.String(), Type.Null()]),
  sandbox: Type.Optional(SandboxProfile),
  warnings: Type.Array(DisplayWarning),
  /** The prompt as text (core/text/display.ts approvalLines): the title, `warned` warning lines, the rest; the CLI and Neovim show it. Older daemons omit it. */
  lines: Type.Optional(Type.Array(Type.String())),
  warned: Type.Optional(Type.Integer({ minimum: 0 })),
}, Loose2);

export const ToolApprove = request({
  method: 'hearth/tool/approve',
  direction: 'serverToClient',
  since: 1,
  idempotent: true,
  doc: 'Ask the user to approve a tool action: tool, argv or diff, proposing model, requesting interface, reason; answer once / session / always / deny.',
  params: Type.Object({
    actionId: Type.String(),
    tool: Type.String(),
    args: Type.Unknown(),
    argv: Type.Optional(Type.Array(Type.String())),
    cwd: Type.Optional(Type.String()),
    diff: Type.Optional(Type.String()),
    path: Type.Optional(Type.String()),
    url: Type.Optional(Type.String()),
    host: Type.Optional(Type.String()),
    text: Type.Optional(Type.String()),
    proposer: Proposer,
    requester: Type.Object({ clientId: Type.Union([Type.String(), Type.Null()]), name: Type.String(), kind: Type.String() }, Loose2),
    workspaceRoot: Type.String(),
    reason: Type.String(),
    rationale: Type.Union([Type.String(), Type.Null()]),
    /** What the command would be allowed (shell.run): writable paths, network, environment, the protected entries it may write. */
    sandbox: Type.Optional(Nullable(SandboxProfile)),
    choices: Type.Array(Choice),
    /** What to show instead of the raw fields (escaped), with the warnings (since issue 11; older daemons omit it). */
    display: Type.Optional(ApprovalDisplay),
    /**
     * The client may answer `pending` at once, show the prompt without blocking, and answer later with
     * hearth/approvals/answer; the daemon then sends hearth/approvals/settled when the approval ends
     * (answered anywhere, withdrawn, timed out). Older daemons omit it: a client must not answer pending then.
     */
    answerLater: Type.Optional(Type.Boolean()),
  }, Loose2),
  /** via: how the client got the answer, for the audit (`hearth mcp` says 'elicitation': the user answered in the agent's own UI). */
  result: Type.Object({ choice: Type.Union([Choice, Type.Literal('pending')]), via: Type.Optional(Type.String({ maxLength: 64 })) }),
});

export const ApprovalsSettled = notification({
  method: 'hearth/approvals/settled',
  direction: 'serverToClient',
  since: 1,
  doc: 'An approval a client answered with pending has ended: answered (here or elsewhere), withdrawn (its requester disconnected or cancelled) '
    + 'or unanswered (timeout, nobody). The client closes its prompt; answering the id afterwards runs nothing.',
  params: Type.Object({
    actionId: Type.String(),
    outcome: Type.Union([Type.Literal('answered'), Type.Literal('withdrawn'), Type.Literal('nobody')]),
    choice: Choice,
    /** Why, in words (for withdrawn and nobody; the answering interface for answered). */
    why: Type.String(),
  }),
});

export const ToolList = request({
  method: 'hearth/tool/list',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: "Hearth's tools with their JSON schemas.",
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ tools: Type.Array(Type.Object({ name: Type.String(), description: Type.String(), inputSchema: Type.Object({}, Loose2) })) }),
});

export const ToolRun = request({
  method: 'hearth/tool/run',
  direction: 'clientToServer',
  since: 1,
  doc: 'Run one tool call through permissions, approval, sandbox and audit (used by `hearth mcp` and agents).',
  params: Type.Object({
    tool: Type.String({ minLength: 1, maxLength: 64 }),
    args: Type.Unknown(),
    proposer: Type.Optional(Proposer),
    workspaceRoot: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    rationale: Type.Optional(Type.String({ maxLength: 4096 })),
    /** The agent behind this connection (e.g. the MCP client's name), recorded in the audit log. */
    via: Type.Optional(Type.String({ maxLength: 128 })),
    /** While the call waits for an approval, $/progress reports to this token say who may answer (`hearth mcp` relays them to the agent). */
    workDoneToken: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Integer()])),
  }, { additionalProperties: false }),
  result: ToolResult,
});

export const ToolUndo = request({
  method: 'hearth/tool/undo',
  direction: 'clientToServer',
  since: 1,
  doc: 'Undo an fs.edit action, restoring the file (refused if the file changed since).',
  params: Type.Object({ actionId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
  result: ToolResult,
});

export const Task = request({
  method: 'hearth/task',
  direction: 'clientToServer',
  since: 1,
  doc: 'An instruction with a selection: the router picks a model that answers with tool calls, each run through permissions, approval, sandbox and audit.',
  params: Type.Object({
    instruction: Type.String({ minLength: 1, maxLength: 16384 }),
    textDocument: Type.Optional(Type.Object({ uri: Type.String({ minLength: 1, maxLength: 4096 }) })),
    range: Type.Optional(Type.Object({
      start: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
      end: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
    })),
    provider: Type.Optional(Type.String({ maxLength: 128 })),
  }, { additionalProperties: false }),
  result: Type.Object({
    route: RouteSummary,
    text: Type.String(),
    toolCalls: Type.Array(ToolResult),
  }, Loose2),
});

/** A tool grant (core/tools/grants.ts Grant). */
const ToolGrant = Type.Object({
  kind: Type.Literal('tool'),
  id: Type.String(),
  scope: Type.Union([Type.Literal('session'), Type.Literal('always')]),
  tool: Type.String(),
  /** What exactly was granted: the argv + cwd, the file, the host. */
  subject: Type.String(),
  /** The workspace root it applies to ('' outside any workspace). */
  workspace: Type.String(),
  client: Nullable(Type.String()),
  requester: Nullable(Type.String()),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  expired: Type.Boolean(),
}, Loose2);
/** An egress grant (server/egress-grants.ts EgressGrantRow). */
const EgressGrant = Type.Object({
  kind: Type.Literal('egress'),
  id: Type.String(),
  grant: Type.Union([Type.Literal('always'), Type.Literal('session'), Type.Literal('declined'), Type.Literal('pending'), Type.Literal('once')]),
  provider: Type.String(),
  feature: Type.String(),
  workspace: Nullable(Type.String()),
  client: Nullable(Type.String()),
  grantedAt: Type.String(),
  expiresAt: Nullable(Type.String()),
}, Loose2);

export const GrantsList = request({
  method: 'hearth/grants/list',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Tool grants (session and always, with expiry) and egress grants (kind: egress; always, session, declined, pending, once), each with kind tool or egress.',
  params: Type.Optional(Type.Object({ includeExpired: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
  result: Type.Object({ grants: Type.Array(Type.Union([ToolGrant, EgressGrant])) }),
});

export const GrantsRevoke = request({
  method: 'hearth/grants/revoke',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Revoke one grant by id: a tool grant, or an egress grant (ids from hearth/grants/list; a revoked decline asks again).',
  params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
  result: Type.Object({ revoked: Type.Boolean() }),
});

/** One audit record (core/audit/log.ts AuditRecord, with its chain hashes). */
const AuditRecord = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  actionId: Type.String(),
  interface: Type.Object({ kind: Type.String(), name: Type.String(), clientId: Nullable(Type.String()) }, Loose2),
  proposer: Type.Object({ model: Type.String(), provider: Type.String() }, Loose2),
  tool: Type.String(),
  args: Type.Unknown(),
  decision: ToolDecision,
  sandbox: Type.Unknown(),
  result: Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('error'), Type.Literal('denied')]), error: Type.Optional(Type.String()) }, Loose2),
  exitCode: Nullable(Type.Integer()),
  filesChanged: Type.Array(Type.Object({ path: Type.String(), diff: Type.String() }, Loose2)),
  hash: Type.String(),
  prevHash: Type.String(),
}, Loose2);

export const AuditShow = request({
  method: 'hearth/audit/show',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Audit records, oldest first (or one action).',
  params: Type.Optional(Type.Object({
    actionId: Type.Optional(Type.String({ maxLength: 128 })),
    afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
  }, { additionalProperties: false })),
  result: Type.Object({ records: Type.Array(AuditRecord) }),
});

export const AuditVerify = request({
  method: 'hearth/audit/verify',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Check the audit hash chain and the signed checkpoint outside the store; names the first bad record, or the missing tail (expected head vs found).',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: VerifyResult,
});

export const AuditExport = request({
  method: 'hearth/audit/export',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'The audit log as JSON lines.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ jsonl: Type.String() }),
});

export const ApprovalsPending = request({
  method: 'hearth/approvals/pending',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Approvals waiting for an answer (for `hearth approve` when the requesting editor is gone).',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  /** request: what hearth/tool/approve carried to the editors. */
  result: Type.Object({ pending: Type.Array(Type.Object({ actionId: Type.String(), since: Type.String(), request: ToolApprove.params }, Loose2)) }),
});

export const ApprovalsAnswer = request({
  method: 'hearth/approvals/answer',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Answer a pending approval by action id; answered false when someone answered it first. An id whose approval was withdrawn '
    + '(its requester disconnected or cancelled) or that never existed is refused with NotFound: nothing runs under it.',
  params: Type.Object({ actionId: Type.String({ minLength: 1, maxLength: 128 }), choice: Choice }, { additionalProperties: false }),
  result: Type.Object({ answered: Type.Boolean() }),
});

// ---------------------------------------------------------------------------------------------
// Memory (issue 7): one memory for every editor, kept on this machine.

/** core/memory/types.ts MEMORY_KINDS: the one list of memory kinds (the Lua plugin's copy is generated, lua/hearth/settings.lua). */
const MemoryKind = Type.Union(MEMORY_KINDS.map((k) => Type.Literal(k)));
const Range2 = Type.Object({
  start: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
  end: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
});
/** One memory item (core/memory/types.ts MemoryItem). */
const MemoryItemShape = Type.Object({
  id: Type.String(),
  /** Position in the one global order of writes. */
  seq: Type.Integer(),
  kind: MemoryKind,
  text: Type.String(),
  workspace: Nullable(Type.String()),
  file: Nullable(Type.Object({ uri: Type.String(), range: Nullable(Range2) }, Loose2)),
  /** The client that wrote it. */
  client: Type.Object({ id: Type.String(), name: Type.String(), version: Type.String() }, Loose2),
  createdAt: Type.String(),
}, Loose2);
/** Workspace scope: omitted = the client's workspace (from initialize's rootUri); null = no workspace. */
const WorkspaceParam = Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()]));

export const MemoryAdd = request({
  method: 'hearth/memory/add',
  direction: 'clientToServer',
  since: 1,
  requestKey: 'requestKey',
  doc: 'Remember text (a selection, a note, a decision); durable before the answer. Refused while the client is paused.',
  params: Type.Object({
    text: Type.String({ minLength: 1, maxLength: 65536 }),
    kind: Type.Optional(MemoryKind),
    workspace: WorkspaceParam,
    file: Type.Optional(Type.Object({ uri: Type.String({ minLength: 1, maxLength: 4096 }), range: Type.Optional(Range2) })),
    /** Unique per item from this client: a resent add (after a daemon restart) returns the stored item instead of storing it twice. */
    requestKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  }, { additionalProperties: false }),
  result: MemoryItemShape,
});

export const MemorySearch = request({
  method: 'hearth/memory/search',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Full-text + vector search fused by reciprocal rank, scoped to the workspace unless allWorkspaces.',
  params: Type.Object({
    query: Type.String({ minLength: 1, maxLength: 4096 }),
    workspace: WorkspaceParam,
    allWorkspaces: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    mode: Type.Optional(Type.Union([Type.Literal('hybrid'), Type.Literal('full-text'), Type.Literal('vector')])),
  }, { additionalProperties: false }),
  result: Type.Object({
    hits: Type.Array(Type.Object({
      item: MemoryItemShape,
      /** Fused RRF score (hybrid), BM25 (full-text) or cosine similarity (vector). */
      score: Type.Number(),
      fullText: Nullable(Type.Object({ rank: Type.Integer(), bm25: Type.Number() }, Loose2)),
      vector: Nullable(Type.Object({ rank: Type.Integer(), similarity: Type.Number() }, Loose2)),
    }, Loose2)),
    /** What actually ran. */
    mode: Type.Union([Type.Literal('hybrid'), Type.Literal('full-text'), Type.Literal('vector')]),
    /** Why the mode differs from the one asked for. */
    note: Type.Optional(Type.String()),
    /** Background embedding: items not embedded yet are found by full text only. */
    embedding: Nullable(Type.Object({ done: Type.Integer(), total: Type.Integer(), model: Type.String(), error: Type.Optional(Type.String()) }, Loose2)),
  }, Loose2),
});

export const MemoryList = request({
  method: 'hearth/memory/list',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Memory items, newest first, with the client that wrote each.',
  params: Type.Optional(Type.Object({
    client: Type.Optional(Type.String({ maxLength: 128 })),
    workspace: WorkspaceParam,
    allWorkspaces: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  }, { additionalProperties: false })),
  result: Type.Object({ items: Type.Array(MemoryItemShape), paused: Type.Array(Type.Object({ name: Type.String(), pausedAt: Type.String() }, Loose2)) }, Loose2),
});

export const MemoryGet = request({
  method: 'hearth/memory/get',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'One memory item.',
  params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
  result: MemoryItemShape,
});

export const MemoryForget = request({
  method: 'hearth/memory/forget',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Forget an item: removed from the store, the full-text index and the vectors.',
  params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
  result: MemoryItemShape,
});

export const MemoryPause = request({
  method: 'hearth/memory/pause',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: "Refuse a client's memory writes (by client name) until resumed; pause: false resumes.",
  params: Type.Object({ client: Type.String({ minLength: 1, maxLength: 128 }), pause: Type.Boolean() }, { additionalProperties: false }),
  result: Type.Object({ client: Type.String(), paused: Type.Boolean() }),
});

export const MemoryExport = request({
  method: 'hearth/memory/export',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Every memory item as one JSON document (format hearth-memory, version 1).',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ format: Type.Literal('hearth-memory'), version: Type.Literal(1), exportedAt: Type.String(), items: Type.Array(MemoryItemShape) }, Loose2),
});

export const MemoryDidChange = notification({
  method: 'hearth/memory/didChange',
  direction: 'serverToClient',
  since: 1,
  doc: 'Memory changed (an item added or forgotten, a client paused): memory views refresh.',
  params: Type.Object({ change: Type.Union([Type.Literal('add'), Type.Literal('forget'), Type.Literal('pause')]), id: Type.Optional(Type.String()), client: Type.Optional(Type.String()) }),
});

// ---------------------------------------------------------------------------------------------
// Ask (issue 13): questions and instructions from every editor and the CLI (docs/ask.md). The route
// plan goes to the client as hearth/ask/progress before anything leaves; the answer streams as
// hearth/ask/progress text chunks; $/cancelRequest on hearth/ask stops the stream; proposed tool
// actions go through permissions, approval (hearth/tool/approve), sandbox and audit; every exchange
// is kept in the local history (the ask_history table; nothing is synced).

const AskRange = Type.Object({
  start: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
  end: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
});
const AskFile = Type.Object({
  uri: Type.String({ minLength: 1, maxLength: 4096 }),
  /** The file's text when it is not open in this client (the CLI sends what it read); else the daemon uses the open buffer. */
  text: Type.Optional(Type.String({ maxLength: 1048576 })),
  languageId: Type.Optional(Type.String({ maxLength: 128 })),
}, { additionalProperties: false });
const HistoryEntry = Type.Object({
  id: Type.String(), time: Type.String(), client: Type.String(), workspace: Type.Union([Type.String(), Type.Null()]),
  prompt: Type.String(), answer: Type.String(), provider: Type.Union([Type.String(), Type.Null()]), location: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  /** What each proposed tool action did, as it was recorded. */
  toolCalls: Type.Unknown(),
}, { additionalProperties: true });

export const Ask = request({
  method: 'hearth/ask',
  direction: 'clientToServer',
  since: 1,
  doc: 'Ask a question or give an instruction with context (selection, files, open buffers). The route plan, then the answer, stream as '
    + 'hearth/ask/progress; $/cancelRequest stops the stream (the answer so far is returned, cancelled: true); tool actions the model '
    + 'proposes go through approval and audit. With no chat model routable, a labelled local answer (memory and workspace retrieval).',
  params: Type.Object({
    /** Chosen by the client; every hearth/ask/progress of this ask carries it. */
    askId: Type.String({ minLength: 1, maxLength: 128 }),
    prompt: Type.String({ minLength: 1, maxLength: 16384 }),
    selection: Type.Optional(Type.Object({ ...AskFile.properties, range: Type.Optional(AskRange) }, { additionalProperties: false })),
    files: Type.Optional(Type.Array(AskFile, { maxItems: 64 })),
    /** Add every document this client has open (editors). */
    openFiles: Type.Optional(Type.Boolean()),
    /** Offer Hearth's tools to the model (default true; only when the chosen provider also serves feature task). */
    tools: Type.Optional(Type.Boolean()),
    provider: Type.Optional(Type.String({ maxLength: 128 })),
    workspaceRoot: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  }, { additionalProperties: false }),
  result: Type.Object({
    askId: Type.String(),
    historyId: Type.String(),
    /** true: no chat model could run it; the text is what Hearth found locally, labelled so. */
    offline: Type.Boolean(),
    route: Type.Union([RouteSummary, Type.Null()]),
    text: Type.String(),
    toolCalls: Type.Array(ToolResult),
    cancelled: Type.Boolean(),
  }, Loose2),
});

export const AskProgress = notification({
  method: 'hearth/ask/progress',
  direction: 'serverToClient',
  since: 1,
  doc: 'One step of an ask, in order: plan (the route plan, sent before anything leaves), text (a chunk of the answer), tool (a proposed tool '
    + 'action, before its approval), toolResult (what it did), done.',
  params: Type.Object({
    askId: Type.String(),
    kind: Type.Union([Type.Literal('plan'), Type.Literal('text'), Type.Literal('tool'), Type.Literal('toolResult'), Type.Literal('done')]),
    plan: Type.Optional(Type.Object({ route: Type.Union([RouteSummary, Type.Null()]), decision: Type.String(), rule: Type.String(), reason: Type.String(), pieces: Type.Array(PlanPiece) }, Loose2)),
    text: Type.Optional(Type.String()),
    tool: Type.Optional(Type.Object({ tool: Type.String(), args: Type.Unknown() }, Loose2)),
    toolResult: Type.Optional(ToolResult),
  }),
});

export const HistoryList = request({
  method: 'hearth/history/list',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Past asks kept on this machine, newest first (every client, every workspace).',
  params: Type.Optional(Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false })),
  result: Type.Object({ entries: Type.Array(HistoryEntry) }),
});

export const HistorySearch = request({
  method: 'hearth/history/search',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Past asks whose prompt or answer contains every word of the query (case-insensitive), newest first.',
  params: Type.Object({ query: Type.String({ minLength: 1, maxLength: 4096 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
  result: Type.Object({ entries: Type.Array(HistoryEntry) }),
});

export const HistoryDelete = request({
  method: 'hearth/history/delete',
  direction: 'clientToServer',
  since: 1,
  idempotent: true,
  doc: 'Delete one past ask by id, or every one (all: true); gone from the store and, with secure_delete, from the next snapshot.',
  params: Type.Object({ id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), all: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  result: Type.Object({ deleted: Type.Integer() }),
});

/** Every hearth/* declaration. Adding a method is adding it here. */
export const HEARTH_METHODS: ReadonlyArray<RequestDecl | NotificationDecl> = [Hello, Status, Shutdown, ExportState, Log, DaemonStopping, RouteCurrent, RouteExplain, EgressConfirm, EgressAnswer, EgressLog, EgressVerify, ModelsReload, ModelsAdd, PolicyStatus,
  ToolApprove, ToolList, ToolRun, ToolUndo, Task, GrantsList, GrantsRevoke, AuditShow, AuditVerify, AuditExport, ApprovalsPending, ApprovalsAnswer, ApprovalsSettled,
  MemoryAdd, MemorySearch, MemoryList, MemoryGet, MemoryForget, MemoryPause, MemoryExport, MemoryDidChange,
  Ask, AskProgress, HistoryList, HistorySearch, HistoryDelete];

/** JSON-RPC error codes the daemon uses beyond the standard ones. */
export const HearthErrorCodes = {
  /** Too many requests in flight on this connection. */
  ServerBusy: -32001,
  /** Token missing or wrong. */
  Unauthorized: -32002,
  /** No protocol version in common. */
  ProtocolMismatch: -32003,
  /** A policy forbids the action. */
  PolicyDenied: -32010,
  /** The client's memory writes are paused. */
  MemoryPaused: -32011,
  /** No such item (memory id, action id, grant id). */
  NotFound: -32012,
} as const;

/** Keys `hearth mcp` (server/mcp.ts) reads and writes in MCP `_meta` objects; not methods, but Hearth's names on the MCP wire. */
export const McpMeta = {
  proposer: { key: 'hearth/proposer', doc: 'tools/call request: `{ model, provider }`, the model that proposed the call (MCP does not say; recorded in the audit log)' },
  actionId: { key: 'hearth/actionId', doc: 'tools/call result: the action id (`hearth audit show ACTION`)' },
  auditSeq: { key: 'hearth/auditSeq', doc: 'tools/call result: the sequence number of the audit record' },
  status: { key: 'hearth/status', doc: 'tools/call result: ok, error or denied' },
} as const;
