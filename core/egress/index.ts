export * from './gate.js';
export * from './ledger.js';
export { REDACTION_MARKER, redactJson, redactKnown, redactText, redactTexts, redactWhole, type RedactionCount, type RedactionResult } from './redact.js';
export { gatedFetch, type GatedFetchOptions } from './fetch.js';
