import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A seam for the fault-injection tests (test/faults-*.test.ts), which kill, signal or cut off a
 * real process in the middle of a retrain: with MLOPS_PAUSE_AT=<point> and MLOPS_PAUSE_DIR=<dir>,
 * a process that reaches <point> writes `<dir>/<point>.reached` (its pid) and waits until
 * `<dir>/<point>.go` appears, so the test knows where the process is when the fault lands. Points:
 * `stage:<extract|quality|features|train|evaluate|gate>` (before the stage) and `extract:copy`
 * (after the first chunk of the source's COPY stream). Unset, it costs one variable lookup.
 */
export async function pausePoint(point: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.MLOPS_PAUSE_AT || env.MLOPS_PAUSE_AT !== point || !env.MLOPS_PAUSE_DIR) return;
  const file = (suffix: string): string => join(env.MLOPS_PAUSE_DIR!, `${point.replace(/[^a-z0-9_-]/gi, '_')}.${suffix}`);
  writeFileSync(file('reached'), `${process.pid}\n`);
  while (!existsSync(file('go'))) await new Promise((r) => setTimeout(r, 25));
}
