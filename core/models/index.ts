// Model compatibility checks, downloads and the user's model registry.
export * from './architectures.js';
export * from './check.js';
export * from './download.js';
export * from './registry.js';
