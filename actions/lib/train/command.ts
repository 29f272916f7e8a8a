import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVector, Table, tableToIPC, type Vector } from 'apache-arrow';
import type { FeatureMatrix } from '../features/matrix.ts';
import { readOnnxMetadata } from '../onnx/metadata.ts';
import { INPUT_NAME, PROBABILITIES_NAME } from '../onnx/proto.ts';
import { PROBABILITY_OUTPUTS, scoreModel } from '../onnx/score.ts';
import type { CommandParams } from './params.ts';

/** How much of the program's stderr an error carries. */
const STDERR_TAIL_BYTES = 2048;
const TARGET_COLUMN = 'target';

/** The training matrix as an Arrow IPC file: one Float32 column per feature + Float64 `target`. */
export function matrixToArrowIpc(m: FeatureMatrix): Uint8Array {
  const n = m.names.length;
  const columns: Record<string, Vector> = {};
  for (let f = 0; f < n; f++) {
    const col = new Float32Array(m.rows);
    for (let r = 0; r < m.rows; r++) col[r] = m.values[r * n + f];
    columns[m.names[f]] = makeVector(col);
  }
  columns[TARGET_COLUMN] = makeVector(m.target);
  return tableToIPC(new Table(columns), 'file');
}

export interface CommandResult {
  onnx: Uint8Array;
  stdout_tail: string;
}

/**
 * Runs a user trainer program (argv, no shell) on the matrix and returns the ONNX it wrote,
 * after checking in onnxruntime-node that it takes `features` [N, n] float and gives one value
 * per row.
 */
export async function trainCommand(train: FeatureMatrix, params: CommandParams, task: 'regression' | 'classification' = 'regression'): Promise<CommandResult> {
  if (train.names.includes(TARGET_COLUMN)) {
    throw new Error(`command trainer: a feature is named "${TARGET_COLUMN}", which is reserved for the target column of the Arrow file`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mlops-command-'));
  try {
    const featuresPath = join(dir, 'features.arrow');
    const outputPath = join(dir, 'model.onnx');
    writeFileSync(featuresPath, matrixToArrowIpc(train));
    const [program, ...args] = params.command;
    const run = await runProgram(program, args, {
      env: {
        ...process.env,
        ...params.env,
        MLOPS_FEATURES: featuresPath,
        MLOPS_OUTPUT: outputPath,
        MLOPS_FEATURE_NAMES: JSON.stringify(train.names),
        // regression: one output; classification (target 0/1): `probabilities` [N, 2] (and `label`)
        MLOPS_TASK: task,
      },
      timeoutMs: params.timeout_minutes * 60_000,
    });
    const argv = JSON.stringify(params.command);
    if (run.timedOut) {
      throw new Error(
        `command trainer ${argv} timed out after ${params.timeout_minutes} minutes; stderr (last ${STDERR_TAIL_BYTES} bytes):\n${run.stderrTail}`,
      );
    }
    if (run.spawnError) throw new Error(`command trainer ${argv} could not start: ${run.spawnError}`);
    if (run.code !== 0) {
      throw new Error(
        `command trainer ${argv} failed with exit code ${run.code ?? `signal ${run.signal}`}; stderr (last ${STDERR_TAIL_BYTES} bytes):\n${run.stderrTail}`,
      );
    }
    if (!existsSync(outputPath)) throw new Error(`command trainer ${argv} exited 0 but did not write MLOPS_OUTPUT (${outputPath})`);
    const onnx = new Uint8Array(readFileSync(outputPath));
    await validateCommandOnnx(onnx, train, task);
    return { onnx, stdout_tail: run.stdoutTail };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The contract every model obeys: input `features` [N, n] float32; a regression model has one
 * output with one value per row, a classifier a `probabilities` output [N, 2].
 */
export async function validateCommandOnnx(onnx: Uint8Array, train: FeatureMatrix, task: 'regression' | 'classification' = 'regression'): Promise<void> {
  const n = train.names.length;
  const info = readOnnxMetadata(onnx);
  const bad = (why: string): Error => new Error(`command trainer: the ONNX model ${why}`);
  if (info.inputs.length !== 1 || info.inputs[0].name !== INPUT_NAME) {
    throw bad(`must have exactly one input named "${INPUT_NAME}", found ${JSON.stringify(info.inputs.map((i) => i.name))}`);
  }
  const dims = info.inputs[0].dims;
  if (info.inputs[0].elem_type !== 1) throw bad(`input "${INPUT_NAME}" must be float (elem_type 1), found ${info.inputs[0].elem_type}`);
  if (!dims || dims.length !== 2 || (typeof dims[1] === 'number' && dims[1] !== n)) {
    throw bad(`input "${INPUT_NAME}" must have shape [N, ${n}], found ${JSON.stringify(dims)}`);
  }
  const probabilities = info.outputs.some((o) => (PROBABILITY_OUTPUTS as readonly string[]).includes(o.name));
  if (task === 'regression' && info.outputs.length !== 1) throw bad(`must have exactly one output, found ${info.outputs.length}`);
  if (task === 'classification' && !probabilities) {
    throw bad(
      `of a classification pipeline must have a "${PROBABILITIES_NAME}" output [N, 2] (column 1 the positive class), found ${JSON.stringify(info.outputs.map((o) => o.name))}`,
    );
  }
  // Smoke-score a few rows in onnxruntime: it must load and give one value per row.
  const rows = Math.min(train.rows, 8);
  let scores: Float32Array;
  try {
    scores = (await scoreModel(onnx, train.values.subarray(0, rows * n), rows, n)).values;
  } catch (err) {
    throw bad(`does not score in onnxruntime-node: ${(err as Error).message}`);
  }
  if (scores.length !== rows) throw bad(`returned ${scores.length} values for ${rows} rows`);
}

interface ProgramRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spawnError: string | null;
  stderrTail: string;
  stdoutTail: string;
}

function runProgram(program: string, args: string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ProgramRun> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr: Buffer = Buffer.alloc(0);
    let stdout: Buffer = Buffer.alloc(0);
    const keepTail = (buf: Buffer, chunk: Buffer): Buffer => {
      const joined = Buffer.concat([buf, chunk]);
      return joined.length > STDERR_TAIL_BYTES ? joined.subarray(joined.length - STDERR_TAIL_BYTES) : joined;
    };
    child.stderr.on('data', (c: Buffer) => (stderr = keepTail(stderr, c)));
    child.stdout.on('data', (c: Buffer) => (stdout = keepTail(stdout, c)));
    let timedOut = false;
    let spawnError: string | null = null;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => (spawnError = err.message));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, spawnError, stderrTail: stderr.toString('utf8'), stdoutTail: stdout.toString('utf8') });
    });
  });
}
