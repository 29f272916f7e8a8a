import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's python3-onnx installs for the system interpreter, not a pyenv one on PATH. */
export const CHECKER_PYTHON = '/usr/bin/python3';
export const CHECKER_INSTALL_HINT = 'apt-get install -y python3-onnx';

/** True when the official ONNX checker can be imported. */
export function officialCheckerAvailable(): boolean {
  return spawnSync(CHECKER_PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
}

/** Runs onnx.checker.check_model(full_check=True) on the bytes; throws with its message on failure. */
export function checkOnnxWithOfficialChecker(bytes: Uint8Array): void {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-check-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, bytes);
    const res = spawnSync(CHECKER_PYTHON, ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', file], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (res.error) throw new Error(`ONNX checker could not run ${CHECKER_PYTHON}: ${res.error.message} (install with: ${CHECKER_INSTALL_HINT})`);
    if (res.status !== 0) {
      const lines = res.stderr.trim().split('\n');
      throw new Error(`ONNX checker failed: ${lines.slice(-5).join('\n')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
