import * as core from '@actions/core';
import { scrub } from './secrets.ts';

export type OutputValue = string | number | boolean | null | undefined;

/**
 * Sets step outputs (the GITHUB_OUTPUT file, through @actions/core). null and undefined become the
 * empty string, which is what an expression sees for a missing output; objects are not accepted,
 * so an action says in its entry how a value is spelled.
 */
export function setOutputs(outputs: Record<string, OutputValue>): void {
  for (const [name, value] of Object.entries(outputs)) {
    core.setOutput(name, scrub(value === null || value === undefined ? '' : String(value)));
  }
}
