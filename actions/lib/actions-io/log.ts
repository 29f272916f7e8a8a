import * as core from '@actions/core';
import { scrub } from './secrets.ts';

/** A line in the step's log, secrets scrubbed. */
export function info(message: string): void {
  core.info(scrub(message));
}
