/**
 * Assembles the gbdt training kernel (actions/lib/train/gbdt/hist-kernel.wat) with wabt and writes
 * its binary, base64, into WASM_BASE64 in hist-kernel.mjs (which workers load without the
 * TypeScript loader, so the binary travels inside it). `--check` only compares and fails when
 * the committed binary is not the source's; test/gbdt-kernel.test.ts runs the same comparison.
 *
 *   npm run build:wasm [-- --check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

const GBDT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'actions', 'lib', 'train', 'gbdt');
export const KERNEL_WAT = join(GBDT_DIR, 'hist-kernel.wat');
export const KERNEL_MJS = join(GBDT_DIR, 'hist-kernel.mjs');
const BASE64_LINE = /^const WASM_BASE64 = '([A-Za-z0-9+/=]*)';$/m;

/** The kernel's binary, assembled from its source (shared memory and atomics: the threads feature). */
export async function assembleKernel(): Promise<Uint8Array> {
  const tools = await wabt();
  const module = tools.parseWat('hist-kernel.wat', readFileSync(KERNEL_WAT, 'utf8'), { threads: true, simd: true, bulk_memory: true });
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

/** The binary hist-kernel.mjs carries now. */
export function committedKernel(): Uint8Array {
  const m = BASE64_LINE.exec(readFileSync(KERNEL_MJS, 'utf8'));
  if (!m) throw new Error(`${KERNEL_MJS}: no line "const WASM_BASE64 = '...';"`);
  return new Uint8Array(Buffer.from(m[1], 'base64'));
}

async function main(): Promise<void> {
  const built = Buffer.from(await assembleKernel()).toString('base64');
  const committed = Buffer.from(committedKernel()).toString('base64');
  if (built === committed) return void console.log(`hist-kernel.mjs carries the binary of hist-kernel.wat (${Buffer.from(built, 'base64').length} bytes)`);
  if (process.argv.includes('--check')) {
    console.error('hist-kernel.mjs does not carry the binary of hist-kernel.wat: run npm run build:wasm and commit the result');
    process.exitCode = 1;
    return;
  }
  writeFileSync(KERNEL_MJS, readFileSync(KERNEL_MJS, 'utf8').replace(BASE64_LINE, `const WASM_BASE64 = '${built}';`));
  console.log(`wrote the binary of hist-kernel.wat into hist-kernel.mjs (${Buffer.from(built, 'base64').length} bytes)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
