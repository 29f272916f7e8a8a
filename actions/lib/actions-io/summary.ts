import * as core from '@actions/core';
import { scrub } from './secrets.ts';

/**
 * Appends Markdown to the job summary (GITHUB_STEP_SUMMARY). Outside a runner (no such file) the
 * summary goes to the log instead, so a local run still shows it.
 */
export async function writeSummary(markdown: string): Promise<void> {
  const text = scrub(markdown);
  if (!process.env.GITHUB_STEP_SUMMARY) {
    core.info(text);
    return;
  }
  await core.summary.addRaw(text.endsWith('\n') ? text : `${text}\n`).write();
  core.summary.emptyBuffer();
}
