// Dispatch table for one daemon: each method declared in the protocol module is registered once
// with its handler; params are validated against the declaration's JSON schema before the handler
// runs, and an invalid field is named in the InvalidParams error. With validateResults (the
// HEARTH_VALIDATE_RESULTS=1 debug option, on in every test daemon: test/helpers/daemon.ts) each
// result is checked, as the client will receive it, against the declared result schema too: one
// that does not match is answered as InternalError naming the field, so a test that got it fails.
import { Ajv, type ValidateFunction } from 'ajv';
import { OptionalKind, type Static, type TSchema } from '@sinclair/typebox';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { ErrorCodes } from './wire.js';
import type { NotificationDecl, RequestDecl } from './protocol.js';

export type RequestHandler<C, P, R> = (params: P, ctx: C, token: CancellationToken) => R | Promise<R>;
export type NotificationHandler<C, P> = (params: P, ctx: C) => void | Promise<void>;

interface Entry<C> {
  kind: 'request' | 'notification';
  /** Params may be omitted entirely (e.g. shutdown, status). */
  optional: boolean;
  schema: TSchema;
  /** Compiled on first use: compiling every method's schema up front slowed daemon start-up. */
  compiled?: ValidateFunction;
  /** The declared result (requests). */
  result?: { schema: TSchema; compiled?: ValidateFunction };
  handler: (params: unknown, ctx: C, token: CancellationToken) => unknown;
}

// validateSchema off: the schemas are ours (TypeBox); checking them against the meta-schema cost start-up time.
const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: false });

function describeError(v: ValidateFunction, method: string, what: 'params' | 'result' = 'params'): string {
  const e = v.errors?.[0];
  if (!e) return `invalid ${what} for ${method}`;
  const where = `${what}${e.instancePath.replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') return `${where}: unknown field "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`;
  if (e.keyword === 'required') return `${where}.${String((e.params as { missingProperty?: string }).missingProperty)} is required`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/**
 * A ResponseError for the client, built without a stack trace: the error goes to the client as
 * code and message only, and capturing the daemon's stack for it (~9 µs) was the largest cost of
 * answering an unknown method (bench/ipc.ts). Faults worth a stack are logged where they happen.
 */
export function clientError(code: number, message: string, data?: unknown): ResponseError<unknown> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ResponseError(code, message, data);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function validatorOf(e: { schema: TSchema; compiled?: ValidateFunction }): ValidateFunction {
  e.compiled ??= ajv.compile(e.schema);
  return e.compiled;
}

export interface RouterOptions {
  /** Check every result against its declaration (default: HEARTH_VALIDATE_RESULTS=1 in the environment). */
  validateResults?: boolean;
}

/** The InternalError a result that does not match its declaration gets (exported for tests). */
export function resultMismatch(method: string, why: string): ResponseError<unknown> {
  return clientError(ErrorCodes.InternalError, `${method} answered with a result its declaration in server/protocol.ts does not allow (${why}); `
    + 'this is a bug in the daemon or in the declaration: the answer was withheld. Report it with this message.');
}

export class Router<C> {
  private readonly entries = new Map<string, Entry<C>>();
  readonly validateResults: boolean;

  constructor(opts: RouterOptions = {}) {
    this.validateResults = opts.validateResults ?? process.env['HEARTH_VALIDATE_RESULTS'] === '1';
  }

  /** The handler's answer must be the declared result (checked by the compiler, and at run time with validateResults). */
  onRequest<P extends TSchema, R extends TSchema>(decl: Pick<RequestDecl<P, R>, 'method' | 'params' | 'result'>, handler: RequestHandler<C, Static<P>, NoInfer<Static<R>> | null>): void {
    this.add(decl.method, 'request', decl.params, handler as Entry<C>['handler'], decl.result);
  }

  onNotification<P extends TSchema>(decl: Pick<NotificationDecl<P>, 'method' | 'params'>, handler: NotificationHandler<C, Static<P>>): void {
    this.add(decl.method, 'notification', decl.params, handler as Entry<C>['handler']);
  }

  private add(method: string, kind: Entry<C>['kind'], schema: TSchema, handler: Entry<C>['handler'], result?: TSchema): void {
    if (this.entries.has(method)) throw new Error(`${method} is registered twice`);
    this.entries.set(method, {
      kind, optional: (schema as unknown as Record<symbol, unknown>)[OptionalKind] === 'Optional', schema, handler,
      ...(result ? { result: { schema: result } } : {}),
    });
  }

  has(method: string): boolean {
    return this.entries.has(method);
  }

  /** Every registered method, with its kind. */
  methods(): Array<{ method: string; kind: 'request' | 'notification' }> {
    return [...this.entries].map(([method, e]) => ({ method, kind: e.kind }));
  }

  /** Runs a request; throws ResponseError for unknown methods and invalid params. */
  async request(method: string, params: unknown, ctx: C, token: CancellationToken): Promise<unknown> {
    const e = this.entries.get(method);
    if (!e || e.kind !== 'request') throw clientError(ErrorCodes.MethodNotFound, `unknown method ${method}`);
    if (!(params === undefined && e.optional)) {
      const validate = validatorOf(e);
      if (!validate(params)) throw clientError(ErrorCodes.InvalidParams, describeError(validate, method));
    }
    if (!this.validateResults || !e.result) return e.handler(params, ctx, token);
    const result = await e.handler(params, ctx, token);
    // As the client will see it: JSON drops undefined fields, a missing result is null.
    const wire: unknown = result === undefined ? null : JSON.parse(JSON.stringify(result));
    const validate = validatorOf(e.result);
    if (!validate(wire)) throw resultMismatch(method, describeError(validate, method, 'result'));
    return result;
  }

  /** Runs a notification; unknown or invalid notifications are reported to `onDrop` (they have no reply). */
  async notify(method: string, params: unknown, ctx: C, onDrop: (why: string) => void): Promise<void> {
    const e = this.entries.get(method);
    if (!e || e.kind !== 'notification') {
      if (!method.startsWith('$/')) onDrop(`unknown notification ${method}`);
      return;
    }
    if (!(params === undefined && e.optional)) {
      const validate = validatorOf(e);
      if (!validate(params)) return onDrop(describeError(validate, method));
    }
    await e.handler(params, ctx, undefined as unknown as CancellationToken);
  }
}
