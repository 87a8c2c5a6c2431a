/**
 * Process effects behind a small interface: spawn a command in its own process group (no shell),
 * signal the whole group. The model owner uses this; tests may inject a fake.
 */
import crossSpawn from 'cross-spawn';
import type { Readable } from 'node:stream';

export interface ChildHandle {
  readonly pid: number;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves with the exit code or signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Spawner {
  /** Throws when the program cannot be started (e.g. not found); the error names the program. */
  spawn(argv: readonly string[], env: Readonly<Record<string, string>>): Promise<ChildHandle>;
  /** Signal every process in the group led by `pid`; false when the group no longer exists. */
  signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean;
  /** Run a command (cmdStop) to completion; resolves with its exit code. */
  run(argv: readonly string[], env: Readonly<Record<string, string>>): Promise<number | null>;
}

export const realSpawner: Spawner = {
  spawn(argv, env) {
    const [program, ...args] = argv;
    if (!program) return Promise.reject(new Error('empty command'));
    const child = crossSpawn(program, args, {
      env: { ...process.env, ...env },
      detached: true, // own process group, so the whole tree can be signalled and no terminal signal reaches it
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
    });
    return new Promise((resolve, reject) => {
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
        child.once('exit', (code, signal) => resolveExit({ code, signal }));
      });
      child.once('error', (error) => reject(new Error(`cannot start ${program}: ${error.message}`, { cause: error })));
      child.once('spawn', () => {
        if (child.pid === undefined) {
          reject(new Error(`cannot start ${program}: no pid`));
          return;
        }
        resolve({ pid: child.pid, stdout: child.stdout, stderr: child.stderr, exited });
      });
    });
  },

  signalGroup(pid, signal) {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  },

  run(argv, env) {
    const [program, ...args] = argv;
    if (!program) return Promise.resolve(null);
    return new Promise((resolve) => {
      const child = crossSpawn(program, args, { env: { ...process.env, ...env }, stdio: 'ignore', shell: false });
      child.once('error', () => resolve(null));
      child.once('exit', (code) => resolve(code));
    });
  },
};
