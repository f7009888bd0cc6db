// What a domain error (thrown in core/) means on the wire: one table, by class, applied once where
// the session dispatches a request (server/session.ts). Features throw core's errors as they come;
// they do not translate them. A ResponseError a handler builds itself passes unchanged; an error of
// no class listed here is a fault of the daemon, answered as InternalError by the session (and logged).
import type { ResponseError } from 'vscode-jsonrpc';
import { LSPErrorCodes } from 'vscode-languageserver-protocol';
import { HearthErrorCodes } from './protocol.js';
import { ErrorCodes } from './wire.js';
import { clientError } from './router.js';
import { DocumentNotOpenError } from '../core/completion.js';
import { PositionError } from '../core/position.js';
import { EgressRefusedError } from '../core/egress/gate.js';
import { PolicyDeniedError } from '../core/routing/service.js';
import { MemoryError } from '../core/memory/types.js';
import { ModelRegistryError } from '../core/models/registry.js';

/** The JSON-RPC error for a domain error, or null when `err` is of no domain class (a daemon fault). */
export function rpcErrorOf(err: unknown): ResponseError<unknown> | null {
  // The request named a document or position that is not there: the client's mistake, and it can fix it.
  if (err instanceof DocumentNotOpenError || err instanceof PositionError) return clientError(ErrorCodes.InvalidParams, err.message);
  // Nothing left the machine: the policy, or the user asked, said no.
  if (err instanceof EgressRefusedError || err instanceof PolicyDeniedError) return clientError(HearthErrorCodes.PolicyDenied, err.message);
  if (err instanceof MemoryError) {
    const code = err.code === 'paused' ? HearthErrorCodes.MemoryPaused : err.code === 'not-found' ? HearthErrorCodes.NotFound : ErrorCodes.InvalidParams;
    return clientError(code, err.message);
  }
  if (err instanceof ModelRegistryError) {
    // The registry's own code and reasons travel as data (`hearth models add` prints the reasons).
    const data = { code: err.code, reasons: err.reasons };
    if (err.code === 'egress-refused') return clientError(HearthErrorCodes.PolicyDenied, err.message, data);
    if (err.code === 'cancelled') return clientError(LSPErrorCodes.RequestCancelled, err.message, data);
    return clientError(ErrorCodes.InvalidParams, err.message, data);
  }
  return null;
}
