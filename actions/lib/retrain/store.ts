import { readFileSync, writeFileSync } from 'node:fs';
import type { FeatureMatrix } from '../features/matrix.ts';
import { readFrameArrow, readMatrixArrow, writeFrameArrow, writeMatrixArrow, type ArrowFrame, type MatrixMetadata } from '../source/arrow.ts';
import { toJson } from '../util/json.ts';
import { parseRunState, readRunState, runFile, writeRunState, type RunState } from './run-dir.ts';

export type MatrixPart = 'train' | 'holdout';
/** the training window (frame.arrow), or the fixed reference set of double evaluation (reference.arrow) */
export type FramePart = 'frame' | 'reference';

/**
 * Where a run's stages keep their state and data. The stages only ever talk to this, so the same
 * stage code serves workflow steps (each a process of its own, handing files through the run
 * directory) and one-process runs. Every state that comes back has been through the run-state
 * schema, whichever store holds it.
 */
export interface RunStore {
  /** the run directory a report names (the memory store writes nothing there) */
  readonly dir: string;
  load(): RunState;
  save(state: RunState): void;
  frame(part?: FramePart): Promise<ArrowFrame>;
  saveFrame(frame: ArrowFrame, part?: FramePart): Promise<void>;
  matrix(part: MatrixPart): Promise<FeatureMatrix>;
  saveMatrix(part: MatrixPart, matrix: FeatureMatrix, metadata: MatrixMetadata): Promise<void>;
  model(): Uint8Array;
  saveModel(onnx: Uint8Array): void;
  /** report.json and report.md, the run's outcome for people and later steps */
  saveReports(json: string, markdown: string): void;
}

/**
 * The run directory on disk (DESIGN §4): run.json, Arrow frames and matrices, model.onnx and the
 * reports. What it writes or reads once it keeps, so a one-process run never reads its own files
 * back; a workflow step (a fresh process) reads them from disk.
 */
export class FileRunStore implements RunStore {
  private state: RunState | null = null;
  private readonly frames = new Map<FramePart, ArrowFrame>();
  private readonly matrices = new Map<MatrixPart, FeatureMatrix>();
  private onnx: Uint8Array | null = null;

  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  load(): RunState {
    this.state ??= readRunState(this.dir);
    return this.state;
  }

  save(state: RunState): void {
    writeRunState(this.dir, state);
    this.state = state;
  }

  async frame(part: FramePart = 'frame'): Promise<ArrowFrame> {
    let f = this.frames.get(part);
    if (!f) this.frames.set(part, (f = await readFrameArrow(runFile(this.dir, part))));
    return f;
  }

  async saveFrame(frame: ArrowFrame, part: FramePart = 'frame'): Promise<void> {
    await writeFrameArrow(frame, runFile(this.dir, part));
    this.frames.set(part, frame);
  }

  async matrix(part: MatrixPart): Promise<FeatureMatrix> {
    let m = this.matrices.get(part);
    if (!m) this.matrices.set(part, (m = await readMatrixArrow(runFile(this.dir, part))));
    return m;
  }

  async saveMatrix(part: MatrixPart, matrix: FeatureMatrix, metadata: MatrixMetadata): Promise<void> {
    await writeMatrixArrow(matrix, runFile(this.dir, part), metadata);
    this.matrices.set(part, matrix);
  }

  model(): Uint8Array {
    this.onnx ??= new Uint8Array(readFileSync(runFile(this.dir, 'model')));
    return this.onnx;
  }

  saveModel(onnx: Uint8Array): void {
    writeFileSync(runFile(this.dir, 'model'), onnx);
    this.onnx = onnx;
  }

  saveReports(json: string, markdown: string): void {
    writeFileSync(runFile(this.dir, 'reportJson'), json);
    writeFileSync(runFile(this.dir, 'reportMd'), markdown);
  }
}

/**
 * A run held in memory only: for running the stages where nothing may touch the disk (tests,
 * benchmarks of the stages alone). Its state still goes through the run-state schema on every
 * save, as a file would, so it cannot hold what run.json could not.
 */
export class MemoryRunStore implements RunStore {
  private state: RunState | null = null;
  private stored: { frame?: ArrowFrame; reference?: ArrowFrame; train?: FeatureMatrix; holdout?: FeatureMatrix; model?: Uint8Array } = {};
  /** report.json and report.md as the gate (or a failure) left them */
  reports: { json: string; markdown: string } | null = null;

  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  load(): RunState {
    if (!this.state) throw new Error(`run ${this.dir} has no state yet: begin the run first`);
    return this.state;
  }

  save(state: RunState): void {
    this.state = parseRunState(toJson(state), `run ${this.dir}`);
  }

  private get<K extends keyof MemoryRunStore['stored']>(key: K, step: string): NonNullable<MemoryRunStore['stored'][K]> {
    const v = this.stored[key];
    if (!v) throw new Error(`run ${this.dir} has no ${key} yet: run the ${step} step first`);
    return v;
  }

  async frame(part: FramePart = 'frame'): Promise<ArrowFrame> {
    return this.get(part, 'extract');
  }

  async saveFrame(frame: ArrowFrame, part: FramePart = 'frame'): Promise<void> {
    this.stored[part] = frame;
  }

  async matrix(part: MatrixPart): Promise<FeatureMatrix> {
    return this.get(part, 'features');
  }

  async saveMatrix(part: MatrixPart, matrix: FeatureMatrix): Promise<void> {
    this.stored[part] = matrix;
  }

  model(): Uint8Array {
    return this.get('model', 'train');
  }

  saveModel(onnx: Uint8Array): void {
    this.stored.model = onnx;
  }

  saveReports(json: string, markdown: string): void {
    this.reports = { json, markdown };
  }
}
