import { metricValue, type MetricName } from '../actions/lib/evaluate/metrics.ts';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { syntheticMatrix } from '../actions/lib/train/bench.ts';
import { train, type OnnxMetadata } from '../actions/lib/train/index.ts';
import { readOnnxMetadata } from '../actions/lib/onnx/metadata.ts';

const meta: OnnxMetadata = { model_name: 'm', training_window: { start: 'a', end: 'b' }, data_fingerprint: 'f' };
const fixture = fileURLToPath(new URL('./fixtures/linear-trainer.ts', import.meta.url));
const node = process.execPath;
const m = syntheticMatrix(500, 4, { seed: 5, nanShare: 0.02 });

describe('command trainer', () => {
  it('hands the matrix over as Arrow and returns the ONNX the program wrote, scored in onnxruntime', async () => {
    const art = await train({ algorithm: 'command', params: { command: [node, '--import', 'tsx', fixture] } }, m, meta);
    expect(art.model).toBeNull();
    expect(readOnnxMetadata(art.onnx).inputs[0]).toEqual({ name: 'features', elem_type: 1, dims: ['N', 4] });
    expect(art.train_metrics.rows).toBe(500);
    expect(art.train_metrics.nan_predictions).toBe(0);
    expect(metricValue(art.train_metrics, 'r2' as MetricName)).toBeGreaterThan(0.5);
  });

  it('reports the exit code and the tail of stderr when the program fails', async () => {
    const script = "process.stderr.write('x'.repeat(5000) + 'boom: cannot read features'); process.exit(3)";
    const err = await train({ algorithm: 'command', params: { command: [node, '-e', script] } }, m, meta).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain('failed with exit code 3');
    expect(message).toMatch(/boom: cannot read features$/);
    expect(message.length).toBeLessThan(2300);
  });

  it('fails when the program writes no model, or a model with the wrong input', async () => {
    await expect(train({ algorithm: 'command', params: { command: [node, '-e', '0'] } }, m, meta)).rejects.toThrow(/exited 0 but did not write MLOPS_OUTPUT/);
    // a valid ONNX file for 3 features instead of 4
    const wrong = `require('fs').writeFileSync(process.env.MLOPS_OUTPUT, require('fs').readFileSync(process.env.WRONG_MODEL))`;
    const three = await train({ algorithm: 'ridge', params: { alpha: 1 } }, { ...syntheticMatrix(50, 3, { seed: 1 }) }, meta);
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const path = `${mkdtempSync('/tmp/wrong-')}/model.onnx`;
    writeFileSync(path, three.onnx);
    await expect(train({ algorithm: 'command', params: { command: [node, '-e', wrong], env: { WRONG_MODEL: path } } }, m, meta)).rejects.toThrow(
      'command trainer: the ONNX model input "features" must have shape [N, 4], found ["N",3]',
    );
  });

  it('kills the program at the timeout', async () => {
    const err = await train({ algorithm: 'command', params: { command: [node, '-e', 'setTimeout(() => {}, 60000)'], timeout_minutes: 0.01 } }, m, meta).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toMatch(/timed out after 0.01 minutes/);
  });
});
