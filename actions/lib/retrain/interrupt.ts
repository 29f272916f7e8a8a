/**
 * SIGTERM and SIGINT (a cancelled workflow, a shutdown, Ctrl-C) end a retrain as `failed`, with the
 * signal and the stage it stopped in, before the process exits. The runs this process works on
 * register here (with how to fail them, so this module stays light enough for the CLI to load
 * first); the adapters (the CLI, the actions) install the handlers. A process killed
 * outright (SIGKILL, a crash) cannot say anything: its run is found abandoned later (lease.ts).
 */

interface ActiveRun {
  runId: string;
  pipeline: string;
  stage(): string | null;
  /** records the run as failed with this message; false when its record was already closed */
  fail(message: string): Promise<boolean>;
}

const active = new Set<ActiveRun>();

/** Registers a run this process is working on; the returned function unregisters it. */
export function trackActiveRun(run: ActiveRun): () => void {
  active.add(run);
  return () => {
    active.delete(run);
  };
}

const EXIT_CODE: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

export interface SignalOptions {
  /** one line per run ended, and the exit (stderr) */
  log: (line: string) => void;
  /** closes what the process holds (the database: its locks go with it) */
  cleanup?: () => Promise<void>;
  /** how long recording may take before the process exits anyway (default 10 s) */
  graceMs?: number;
}

/**
 * Installs SIGTERM and SIGINT handlers that record every active run as failed, clean up and exit
 * with 128 + the signal number. A second signal exits at once. Returns a function that removes them.
 */
export function failRunsOnSignal(options: SignalOptions): () => void {
  let handling = false;
  const handler = (signal: 'SIGINT' | 'SIGTERM'): void => {
    const code = EXIT_CODE[signal];
    if (handling) process.exit(code);
    handling = true;
    // Recording waits for the database; a database that does not answer must not keep us alive.
    setTimeout(() => {
      options.log(
        `still recording after ${((options.graceMs ?? 10_000) / 1000).toFixed(0)} s; exiting: a run left running is found abandoned by the next retrain`,
      );
      process.exit(code);
    }, options.graceMs ?? 10_000);
    void (async () => {
      for (const run of [...active]) {
        const stage = run.stage();
        const message = `interrupted by ${signal}${stage ? ` during the ${stage} stage` : ''}: the process was asked to stop (a cancelled job, a shutdown or Ctrl-C) before the run finished`;
        try {
          const recorded = await run.fail(message);
          options.log(
            recorded
              ? `${run.pipeline}: ⏹ run ${run.runId} recorded as failed: ${message}`
              : `${run.pipeline}: ⏹ run ${run.runId} stopped: ${message} (its record was already closed)`,
          );
        } catch (err) {
          options.log(
            `${run.pipeline}: ⏹ run ${run.runId} stopped by ${signal} but could not be recorded as failed (${(err as Error).message}); the next retrain marks it abandoned`,
          );
        }
        active.delete(run);
      }
      try {
        await options.cleanup?.();
      } catch {
        /* exiting anyway */
      }
      process.exit(code);
    })();
  };
  const onInt = (): void => handler('SIGINT');
  const onTerm = (): void => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  };
}
