/**
 * Running the project's TypeScript without a build step: on Node's own type stripping where Node
 * has it (22.18+, 23.6+; the project's TypeScript is erasable syntax only), else through tsx's
 * loader, which costs ~0.5 s of CPU per process. The CLI (scripts/mlops.mjs), every action step
 * (actions-io/run-step.mjs) and the PGlite worker thread start their TypeScript through here. Plain JavaScript: it runs before any TypeScript can.
 */
import * as nodeModule from 'node:module';
import { pathToFileURL } from 'node:url';

/** Whether this Node runs .ts files itself. */
export const nodeStripsTypes = Boolean(process.features.typescript);

/** The Node flags a worker thread or child process needs to load TypeScript: none where Node strips types, else tsx's loader. */
export function typescriptExecArgv() {
  return nodeStripsTypes ? [] : ['--import', pathToFileURL(nodeModule.createRequire(import.meta.url).resolve('tsx')).href];
}

/** Imports a TypeScript module in this process, with V8's compile cache on (compiled code kept between runs) and tsx where Node needs it. */
export async function runTypeScript(url) {
  nodeModule.enableCompileCache?.(); // Node 22.1+
  if (!nodeStripsTypes) (await import('tsx/esm/api')).register();
  await import(url);
}
