// Tamper evidence anchored outside the store: hash chains (chain.ts), the device key (key.ts),
// signed checkpoints in the anchor file (checkpoint.ts), the daemon's anchor and verify
// (anchor.ts), and what an import would do to them (import.ts). Threat model: docs/tamper-evidence.md.
export * from './chain.js';
export { AnchorError, ensureDeviceKey, readDeviceKey, keyPaths, type DeviceKey } from './key.js';
export { anchorPath, checkpointProblem, readAnchor, type AnchorReading, type CheckpointBody, type SignedCheckpoint, type AnchorEvent } from './checkpoint.js';
export { DeviceAnchor, checkLog, divergence, reanchor, storeHeads, type AnchorStoreReader } from './anchor.js';
export { assessImport, type ImportAssessment, type ImportVerdict } from './import.js';
