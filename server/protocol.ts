// The one place every `hearth/*` method is declared. Clients (bridge, CLI, editors, tests) and the
// daemon import these declarations; nobody retypes a method string. Each declaration is data:
// method name, direction, kind, the protocol version it appeared in, and a JSON schema (TypeBox)
// that the daemon validates params against at the boundary. Standard LSP methods are not listed
// here; they come from vscode-languageserver-protocol.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  DidChangeTextDocumentNotification, DidCloseTextDocumentNotification, DidOpenTextDocumentNotification,
  DidSaveTextDocumentNotification, ExitNotification, InitializedNotification, InitializeRequest,
  InlineCompletionRequest, ShutdownRequest,
} from 'vscode-languageserver-protocol';

/** Protocol versions this build speaks. The daemon serves [PROTOCOL_MIN, PROTOCOL_MAX]. */
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 1;

export type Direction = 'clientToServer' | 'serverToClient';

export interface RequestDecl<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly kind: 'request';
  readonly method: string;
  readonly direction: Direction;
  readonly since: number;
  readonly doc: string;
  readonly params: P;
  readonly result: R;
}

export interface NotificationDecl<P extends TSchema = TSchema> {
  readonly kind: 'notification';
  readonly method: string;
  readonly direction: Direction;
  readonly since: number;
  readonly doc: string;
  readonly params: P;
}

export type Params<D extends { params: TSchema }> = Static<D['params']>;
export type Result<D extends RequestDecl> = Static<D['result']>;

function request<P extends TSchema, R extends TSchema>(d: Omit<RequestDecl<P, R>, 'kind'>): RequestDecl<P, R> {
  return { kind: 'request', ...d };
}
function notification<P extends TSchema>(d: Omit<NotificationDecl<P>, 'kind'>): NotificationDecl<P> {
  return { kind: 'notification', ...d };
}

// ---------------------------------------------------------------------------------------------
// Shared shapes

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
  documents: Type.Array(OpenDocumentInfo),
});
export type ClientInfo = Static<typeof ClientInfo>;

// ---------------------------------------------------------------------------------------------
// Methods

export const Hello = request({
  method: 'hearth/hello',
  direction: 'clientToServer',
  since: 1,
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
  doc: 'Daemon version, protocol range, store schema, uptime and every attached client with its open documents.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({
    version: Type.String(),
    pid: Type.Integer(),
    protocol: Type.Object({ min: Type.Integer(), max: Type.Integer() }),
    store: Type.Object({ schemaVersion: Type.Integer(), path: Type.String() }),
    home: Type.String(),
    socket: Type.String(),
    uptimeMs: Type.Integer(),
    clients: Type.Array(ClientInfo),
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


// ---------------------------------------------------------------------------------------------
// Routing (issue 4/5): what clients show about where a model call runs.

export const Location = Type.Union([Type.Literal('local'), Type.Literal('lan'), Type.Literal('cloud')]);

export const RouteSummary = Type.Object({
  feature: Type.String(),
  provider: Type.String(),
  model: Type.String(),
  location: Location,
  reason: Type.String(),
});
export type RouteSummary = Static<typeof RouteSummary>;

export const RouteCurrent = notification({
  method: 'hearth/route/current',
  direction: 'serverToClient',
  since: 1,
  doc: 'The route the last completion for this client took; editors show it in the status line.',
  params: RouteSummary,
});

const PlanPiece = Type.Object({
  source: Type.Object({ kind: Type.String(), uri: Type.Optional(Type.String()), client: Type.Optional(Type.String()) }, { additionalProperties: true }),
  bytes: Type.Integer(),
  sentBytes: Type.Optional(Type.Integer()),
  dataClass: Type.String(),
}, { additionalProperties: true });

export const RouteExplain = request({
  method: 'hearth/route/explain',
  direction: 'clientToServer',
  since: 1,
  doc: 'The route plan a completion at this position would follow (provider, location, rule, why not local, every data piece with source and bytes), without running it.',
  params: Type.Object({
    feature: Type.Optional(Type.Literal('completion')),
    textDocument: Type.Object({ uri: Type.String({ minLength: 1, maxLength: 4096 }) }),
    position: Type.Object({ line: Type.Integer({ minimum: 0 }), character: Type.Integer({ minimum: 0 }) }),
  }),
  // `route` is the status-line summary; the rest is core/routing's RoutePlan without piece texts.
  result: Type.Object({
    route: RouteSummary,
    decision: Type.String(),
    rule: Type.String(),
    reason: Type.String(),
    pieces: Type.Array(PlanPiece),
  }, { additionalProperties: true }),
});

export const EgressLog = request({
  method: 'hearth/egress/log',
  direction: 'clientToServer',
  since: 1,
  doc: 'The egress ledger, newest first: every attempt to send data off the machine, with bytes, hash, sources and decision.',
  params: Type.Optional(Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
    since: Type.Optional(Type.String()),
  }, { additionalProperties: false })),
  result: Type.Object({ entries: Type.Array(Type.Object({}, { additionalProperties: true })) }),
});

export const ModelsReload = request({
  method: 'hearth/models/reload',
  direction: 'clientToServer',
  since: 1,
  doc: 'Re-read the model registry ($HEARTH_HOME/models.json) after `hearth models add|remove`.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ engines: Type.Array(Type.String()) }),
});

export const PolicyStatus = request({
  method: 'hearth/policy/status',
  direction: 'clientToServer',
  since: 1,
  doc: 'Which policy files are in force and the last error, if a reload was refused.',
  params: Type.Optional(Type.Object({}, { additionalProperties: false })),
  result: Type.Object({ userFile: Type.String(), lastError: Type.Union([Type.String(), Type.Null()]) }),
});

export const EgressConfirm = request({
  method: 'hearth/egress/confirm',
  direction: 'serverToClient',
  since: 1,
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
  }),
  result: Type.Object({
    decision: Type.Union([Type.Literal('once'), Type.Literal('session'), Type.Literal('always'), Type.Literal('deny')]),
  }),
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
    method: InitializeRequest.method, direction: 'clientToServer', since: 1,
    doc: 'LSP initialize: the client\'s identity (clientInfo) and capabilities.',
    params: Type.Object({
      processId: Type.Union([Type.Integer(), Type.Null()]),
      clientInfo: Type.Optional(Type.Object({ name: Type.String({ maxLength: 128 }), version: Type.Optional(Type.String({ maxLength: 64 })) }, Loose)),
      rootUri: Type.Optional(Type.Union([Uri, Type.Null()])),
      capabilities: Type.Object({}, Loose),
    }, Loose),
    result: Type.Object({ capabilities: Type.Object({}, Loose), serverInfo: Type.Object({ name: Type.String(), version: Type.String() }) }),
  }),
  initialized: notification({ method: InitializedNotification.method, direction: 'clientToServer', since: 1, doc: 'LSP initialized.', params: Type.Optional(Type.Object({}, Loose)) }),
  shutdown: request({ method: ShutdownRequest.method, direction: 'clientToServer', since: 1, doc: 'LSP shutdown: ends this client\'s session, not the daemon.', params: Type.Optional(Type.Null()), result: Type.Null() }),
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
  didSave: notification({ method: DidSaveTextDocumentNotification.method, direction: 'clientToServer', since: 1, doc: 'Saved (ignored).', params: Type.Object({}, Loose) }),
  didClose: notification({
    method: DidCloseTextDocumentNotification.method, direction: 'clientToServer', since: 1, doc: 'A document closed in the editor.',
    params: Type.Object({ textDocument: Type.Object({ uri: Uri }, Loose) }, Loose),
  }),
  inlineCompletion: request({
    method: InlineCompletionRequest.method, direction: 'clientToServer', since: 1, doc: 'Ghost-text completion at a position (LSP 3.18).',
    params: Type.Object({
      textDocument: Type.Object({ uri: Uri }, Loose),
      position: Position,
      context: Type.Optional(Type.Object({ triggerKind: Type.Integer() }, Loose)),
    }, Loose),
    result: Type.Object({ items: Type.Array(Type.Object({ insertText: Type.String(), range: Type.Optional(Range) }, Loose)) }),
  }),
} as const;

/** Every hearth/* declaration. Adding a method is adding it here. */
export const HEARTH_METHODS: ReadonlyArray<RequestDecl | NotificationDecl> = [Hello, Status, Shutdown, ExportState, Log, RouteCurrent, RouteExplain, EgressConfirm, EgressLog, ModelsReload, PolicyStatus];

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
} as const;
