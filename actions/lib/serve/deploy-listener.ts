import type { Db, Listener } from '../db/index.ts';
import { DEPLOYMENTS_CHANNEL } from '../tracking/deployments.ts';

/**
 * How the server hears of a deploy at once: LISTEN on DEPLOYMENTS_CHANNEL, where recording a
 * deployment NOTIFYs when its transaction commits (tracking/deployments.ts). On PostgreSQL the
 * LISTEN holds a connection of its own; when that connection is lost (the server restarted,
 * pg_terminate_backend, the network), it is opened again with a growing, jittered delay, and once
 * back the server checks the table (a deploy announced meanwhile was not heard). The poll of the
 * table goes on all along: it is the fallback, never replaced.
 */

export interface DeployListenerOptions {
  /** a deploy was announced (the payload: its commit) */
  onNotify(payload: string): void;
  /** listening again after a loss: what was announced meanwhile was not heard */
  onRestored(): void;
  /** listening (true) or not (false) */
  onState(up: boolean): void;
  log: (line: string) => void;
  /** the first delay before listening again (default 500 ms), doubled per failed attempt up to `maxDelayMs` (default 30 s) */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface DeployListener {
  /** settles after the first attempt to listen, whether it succeeded or not */
  started: Promise<void>;
  close(): Promise<void>;
}

export function listenForDeploys(db: Db, options: DeployListenerOptions): DeployListener {
  const minDelay = options.minDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  let closed = false;
  let current: Listener | null = null;
  let wake: (() => void) | null = null;
  let firstAttempt!: () => void;
  const started = new Promise<void>((resolve) => (firstAttempt = resolve));

  const pause = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async (): Promise<void> => {
    let delay = minDelay;
    let wasUp = false;
    let lastError: string | null = null;
    while (!closed) {
      try {
        const listener = await db.listen(DEPLOYMENTS_CHANNEL, options.onNotify);
        if (closed) {
          await listener.close();
          break;
        }
        current = listener;
        const upSince = Date.now();
        options.onState(true);
        if (wasUp || lastError !== null) options.log(`serve: listening for deploys (NOTIFY ${DEPLOYMENTS_CHANNEL}) again`);
        // Listening again after a loss, or at last after the first attempts failed: what was announced meanwhile went unheard.
        if (wasUp || lastError !== null) options.onRestored();
        wasUp = true;
        lastError = null;
        firstAttempt();
        await new Promise<void>((resolve) => {
          if (listener.lost.aborted) resolve();
          else listener.lost.addEventListener('abort', () => resolve(), { once: true });
        });
        current = null;
        options.onState(false);
        if (closed) break;
        const why = listener.lost.reason instanceof Error ? listener.lost.reason.message : String(listener.lost.reason);
        options.log(`serve: the deploy listener lost its connection (${why}); listening again shortly, the poll of mlops.deployments goes on meanwhile`);
        // A connection that held for a while starts the delays over; one lost at once keeps growing them.
        if (Date.now() - upSince >= maxDelay) delay = minDelay;
      } catch (err) {
        const message = (err as Error).message;
        if (message !== lastError)
          options.log(`serve: cannot LISTEN for deploys (${message}); trying again with a growing delay, the poll of mlops.deployments goes on meanwhile`);
        lastError = message;
        firstAttempt();
      }
      if (closed) break;
      await pause(delay * (0.8 + 0.4 * Math.random()));
      delay = Math.min(2 * delay, maxDelay);
    }
    firstAttempt();
  };
  const running = run();

  return {
    started,
    async close() {
      closed = true;
      wake?.();
      await current?.close();
      await running;
    },
  };
}
