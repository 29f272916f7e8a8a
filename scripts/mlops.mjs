/**
 * The command line's launcher (`npm run mlops -- <command>`, or `node scripts/mlops.mjs`): the
 * TypeScript runs on Node's own type stripping where Node has it (22.18+, 23.6+), else through
 * tsx's loader, and V8's compile cache keeps every module's compiled code between runs. Start-up was
 * most of a short command: tsx's transform and source maps cost ~0.5 s of CPU per process.
 * (Plain JavaScript: it runs before any TypeScript can.)
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
if (!process.features.typescript) (await import('tsx/esm/api')).register();
await import('./mlops.ts');
