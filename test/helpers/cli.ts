import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The command line as a user runs it (`npm run mlops` runs `node scripts/mlops.mjs ...`), a separate process. */
export const CLI = resolve('scripts/mlops.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** resolves when the process has exited */
  exited: Promise<CliResult>;
}

/**
 * Starts the CLI. The environment is the test's, with DATABASE_URL emptied (the embedded database
 * unless `env` says otherwise) and `env` on top.
 */
export function startMlops(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<CliResult>((done) => {
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
  };
}

/** Runs the CLI to its end. */
export async function mlops(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Promise<CliResult & { code: number }> {
  const r = await startMlops(args, env, cwd).exited;
  return { ...r, code: r.code ?? 1 };
}

/** Waits until `check` holds (polling), or fails after `timeoutMs` saying what it waited for. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The pause points of actions/lib/faults/pause-point.ts: the environment that makes a CLI process
 * stop at `point`, and the means to wait for it there and to let it go on.
 */
export function pauseAt(dir: string, point: string) {
  const file = (suffix: string) => join(dir, `${point.replace(/[^a-z0-9_-]/gi, '_')}.${suffix}`);
  return {
    env: { MLOPS_PAUSE_AT: point, MLOPS_PAUSE_DIR: dir },
    /** waits until a process has reached the point (it is paused there now) */
    reached: (p?: CliProcess) =>
      waitUntil(`a process to reach ${point}${p ? ` (stderr so far: ${p.stderr})` : ''}`, () => {
        if (p && p.child.exitCode !== null) throw new Error(`the process exited (${p.child.exitCode}) before reaching ${point}: ${p.stderr}`);
        return existsSync(file('reached'));
      }),
    /** lets the paused process go on */
    release: () => writeFileSync(file('go'), ''),
  };
}
