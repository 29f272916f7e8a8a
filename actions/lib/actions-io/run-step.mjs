/**
 * `node run-step.mjs <main.ts>`: runs one action step's entry (actions-io/entry.sh) through the
 * one TypeScript launcher (util/typescript.mjs). A file of its own that always runs its argument:
 * deciding "am I the main module?" by comparing paths fails when the checkout is reached through
 * a symlink (Node resolves import.meta.url, not argv), and the step would exit 0 having run nothing.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runTypeScript } from '../util/typescript.mjs';

const entry = process.argv[2];
if (!entry) throw new Error('usage: node run-step.mjs <actions/<step>/main.ts>');
await runTypeScript(pathToFileURL(resolve(entry)).href);
