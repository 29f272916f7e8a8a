import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/runner.ts';
import { mlops } from './helpers/cli.ts';

/**
 * What the docs and npm tell a person is true (#11.14, #11.8): every command the README and
 * docs/ name is one the CLI has (it was once `mlops validate`), `npm run` prints no npm warning,
 * and Node 24 is the target with 22 the floor.
 */

const DOCS = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('the docs and npm', () => {
  it('every `mlops <command>` the docs name is a command of the CLI', async () => {
    const help = await mlops(['--help']);
    expect(help.code).toBe(0);
    const commands = new Set([...help.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) {2,}/gm)].map((m) => m[1]));
    expect(commands).toContain('pipelines validate');
    const named: string[] = [];
    const unknown: string[] = [];
    for (const file of DOCS) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      for (const m of text.matchAll(/(?:npm run mlops -- |`mlops )([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)) {
        const [one, two] = [m[1], m[2]];
        named.push(one);
        if (!(two && commands.has(`${one} ${two}`)) && !commands.has(one)) unknown.push(`${file}: ${m[0]}`);
      }
    }
    expect(named.length).toBeGreaterThan(10);
    expect(unknown).toEqual([]);
  });

  it('npm run prints no warning about the project config (the onnxruntime-node key in .npmrc)', () => {
    const run = spawnSync('npm', ['run', 'mlops', '--', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr).not.toMatch(/npm warn/i);
    expect(readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });

  it('Node 24 is the target and 22 the floor: engines, the workflows, CI', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=22');
    expect(readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8')).toMatch(/^NODE24_VERSION=24\.\d+\.\d+$/m);
    for (const f of readdirSync(join(REPO_ROOT, '.github/workflows'))) {
      const text = readFileSync(join(REPO_ROOT, '.github/workflows', f), 'utf8');
      for (const m of text.matchAll(/node-version: *(\S+)/g)) expect(m[1], f).toBe('24');
    }
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
  });
});
