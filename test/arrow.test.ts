import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFrameArrow, readMatrixArrow, writeFrameArrow, writeMatrixArrow } from '../actions/lib/source/arrow.ts';
import { frameFingerprint } from '../actions/lib/source/fingerprint.ts';
import type { Frame } from '../actions/lib/source/frame.ts';
import type { FeatureMatrix } from '../actions/lib/features/matrix.ts';

const dir = mkdtempSync(join(tmpdir(), 'mlops-arrow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bits64(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

function frame(): Frame {
  const rows = 1000;
  const times = new Float64Array(rows);
  const entities = new Int32Array(rows);
  const a = new Float64Array(rows);
  const b = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    entities[i] = i < 400 ? 0 : 1;
    times[i] = Date.UTC(2026, 0, 1) + (i % 400) * 60_000 + 0.25;
    a[i] = i % 13 === 0 ? Number.NaN : Math.sin(i) * 1e6;
    b[i] = i === 5 ? -0 : i === 6 ? Number.MAX_VALUE : i === 7 ? Number.MIN_VALUE : i / 3;
  }
  return {
    rows,
    times,
    entities,
    entityIds: ['pump station "A"', 'Ünterwerk'],
    // A data column may share the name of the reserved time/entity fields.
    names: ['time', 'b'],
    columns: [a, b],
    window: { start: new Date('2025-12-31T00:00:00Z'), end: new Date('2026-01-02T00:00:00Z') },
  };
}

describe('Arrow IPC', () => {
  it('round-trips a frame exactly, NaN and -0 included, with window and fingerprint', async () => {
    const f = frame();
    const path = join(dir, 'frame.arrow');
    await writeFrameArrow(f, path);
    const g = await readFrameArrow(path);
    expect(g.rows).toBe(f.rows);
    expect(g.names).toEqual(f.names);
    expect(g.entityIds).toEqual(f.entityIds);
    expect([...g.entities]).toEqual([...f.entities]);
    expect(bits64(g.times)).toBe(bits64(f.times));
    for (let c = 0; c < 2; c++) expect(bits64(g.columns[c])).toBe(bits64(f.columns[c]));
    expect(Object.is(g.columns[1][5], -0)).toBe(true);
    expect(g.window).toEqual(f.window);
    expect(g.fingerprint).toBe(frameFingerprint(f));
  });

  it('keeps an extracted fingerprint and refuses a file whose data no longer matches it', async () => {
    const path = join(dir, 'frame-fp.arrow');
    await writeFrameArrow({ ...frame(), fingerprint: 'sha256:' + '0'.repeat(64) }, path);
    await expect(readFrameArrow(path)).rejects.toThrow(/does not match the stored sha256:0000/);
    expect((await readFrameArrow(path, { verify: false })).fingerprint).toBe('sha256:' + '0'.repeat(64));
  });

  it('round-trips an empty frame', async () => {
    const path = join(dir, 'empty.arrow');
    const empty: Frame = {
      ...frame(),
      rows: 0,
      times: new Float64Array(0),
      entities: new Int32Array(0),
      entityIds: [],
      columns: [new Float64Array(0), new Float64Array(0)],
    };
    await writeFrameArrow(empty, path);
    const g = await readFrameArrow(path);
    expect(g.rows).toBe(0);
    expect(g.names).toEqual(['time', 'b']);
    expect(g.fingerprint).toBe(frameFingerprint(empty));
  });

  it('round-trips a feature matrix (row-major Float32) with target, times, entities and metadata', async () => {
    const rows = 257;
    const names = ['x', 'x_lag_5m', 'hour_sin'];
    const values = new Float32Array(rows * names.length);
    for (let i = 0; i < values.length; i++) values[i] = i % 17 === 0 ? Number.NaN : Math.fround(Math.cos(i) * 100);
    const m: FeatureMatrix = {
      rows,
      names,
      values,
      target: Float64Array.from({ length: rows }, (_, i) => i * 0.1),
      times: Float64Array.from({ length: rows }, (_, i) => 1e12 + i * 60_000),
      entities: Int32Array.from({ length: rows }, (_, i) => i % 3),
      entityIds: ['a', 'b', 'c'],
    };
    const path = join(dir, 'matrix.arrow');
    await writeMatrixArrow(m, path, { spec: '{"k":1}' });
    const g = await readMatrixArrow(path);
    expect(g.names).toEqual(names);
    expect(Buffer.from(g.values.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    expect(bits64(g.target)).toBe(bits64(m.target));
    expect(bits64(g.times)).toBe(bits64(m.times));
    expect([...g.entities]).toEqual([...m.entities]);
    expect(g.entityIds).toEqual(m.entityIds);
    expect(g.metadata).toEqual({ spec: '{"k":1}' });
  });

  it('refuses a file of the wrong kind', async () => {
    const path = join(dir, 'frame2.arrow');
    await writeFrameArrow(frame(), path);
    await expect(readMatrixArrow(path)).rejects.toThrow(/not an mlops matrix Arrow file/);
    writeFileSync(join(dir, 'junk.arrow'), readFileSync(path).subarray(0, 10));
    await expect(readFrameArrow(join(dir, 'junk.arrow'))).rejects.toThrow();
  });
});
