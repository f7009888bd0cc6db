// The daemon/CLI version, injected by esbuild from package.json (falls back when run from source).
declare const __HEARTH_VERSION__: string | undefined;
export const VERSION: string = typeof __HEARTH_VERSION__ === 'string' ? __HEARTH_VERSION__ : '0.1.0-dev';
