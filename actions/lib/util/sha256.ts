import { createHash } from 'node:crypto';

/** The lowercase hex sha256 of bytes or text: model artifacts, migrations, run ids. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
