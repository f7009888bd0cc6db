// Where Hearth keeps things. HEARTH_HOME isolates all state (tests run many daemons side by side).
import os from 'node:os';
import path from 'node:path';

export interface HearthPaths {
  /** All durable state: store, token, models, logs. */
  home: string;
  /** User configuration (policy). */
  configDir: string;
  /** Directory holding the socket; must be 0700, owned by us, not a symlink. */
  runDir: string;
  socket: string;
  token: string;
  store: string;
  logs: string;
  /** Human-readable record of the running daemon (the real locks are homeLock and socketLock). */
  pidFile: string;
  /** flock'ed by the daemon of this home (inside the 0700 home: nobody else can open it). */
  homeLock: string;
  /** flock'ed by the daemon serving `socket` (inside the 0700 runDir), so two homes never share one socket. */
  socketLock: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): HearthPaths {
  const homeDir = os.homedir();
  const dataHome = env.XDG_DATA_HOME || path.join(homeDir, '.local', 'share');
  const configHome = env.XDG_CONFIG_HOME || path.join(homeDir, '.config');
  const home = path.resolve(env.HEARTH_HOME || path.join(dataHome, 'hearth'));
  const configDir = env.HEARTH_HOME ? path.join(home, 'config') : path.join(configHome, 'hearth');
  const runDir = env.XDG_RUNTIME_DIR ? path.join(path.resolve(env.XDG_RUNTIME_DIR), 'hearth') : path.join(home, 'run');
  return {
    home,
    configDir,
    runDir,
    socket: path.join(runDir, 'hearth.sock'),
    token: path.join(home, 'token'),
    store: path.join(home, 'store'),
    logs: path.join(home, 'logs'),
    pidFile: path.join(home, 'daemon.pid'),
    homeLock: path.join(home, 'daemon.lock'),
    socketLock: path.join(runDir, 'hearth.sock.lock'),
  };
}
