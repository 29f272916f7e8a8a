/**
 * The command line's launcher (`npm run mlops -- <command>`, or `node scripts/mlops.mjs`): the
 * TypeScript runs on Node's own type stripping where Node has it, else through tsx, with V8's
 * compile cache on (actions/lib/util/typescript.mjs). Start-up was most of a short command: tsx's
 * transform and source maps cost ~0.5 s of CPU per process.
 */
import { runTypeScript } from '../actions/lib/util/typescript.mjs';

await runTypeScript(new URL('./mlops.ts', import.meta.url).href);
