import {
  closeSync,
  copyFileSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { MemoryFS, PGlite } from '@electric-sql/pglite';
import { LOCK_FILE } from './dir-lock.ts';
import { sha256Hex } from '../util/sha256.ts';

/**
 * A new PGlite database runs initdb: ~4 s of CPU and ~1.1 GB of memory in the process that opens
 * it (every test suite's in-memory database, every CLI on a new directory, the demo's first run).
 * Its output depends only on PGlite's build and the start parameters, so it runs once per machine:
 * the first new database publishes a cleanly shut down data directory (the template) in the cache,
 * and every later new database starts from a copy of it (~0.6 s of CPU, ~200 MB).
 *
 *   <cache>/pglite-template/pglite-<version>-<key>/data/           the template's data directory
 *   <cache>/pglite-template/pglite-<version>-<key>/template.json   its manifest, written last
 *
 * A template is built under a temporary name and renamed into place, so no process sees half of
 * one; processes that build at once each publish by rename, the first wins and the others use its
 * template. A template is used only when every file of its manifest is there at its size and the
 * manifest still names the same build once the files are read (a rebuild that replaced a damaged
 * template meanwhile is never mixed with it); else it is rebuilt. Existing data directories are
 * opened as they are.
 *
 * Each use marks its template (the manifest's mtime, at most once a day). Publishing a template
 * removes the others no process has used for STALE_TEMPLATE_MS: those of an older PGlite or older
 * migrations, ~40 MB each, would otherwise pile up in the cache with every upgrade.
 */

/** PGlite's data directory inside its WASM file system (its initdb.ts, not exported). */
const PGDATA = '/pglite/data';
/** The manifest's layout; a change publishes templates under new names. */
const TEMPLATE_FORMAT = 1;
const MANIFEST = 'template.json';
/** In a new on-disk data directory while it is filled from the template: what a crash leaves there is ours to clear. */
const FILL_MARKER = 'mlops-template-fill';
/** A builder's temporary template older than this died building (a build takes seconds). */
const ABANDONED_BUILD_MS = 60 * 60 * 1000;

/** A template unused for this long is removed when another is published. */
export const STALE_TEMPLATE_MS = 14 * 24 * 60 * 60 * 1000;
/** How often a template's use is written down: not a write per new database. */
const USE_MARK_MS = 24 * 60 * 60 * 1000;
/** A published template's name (a builder's temporary or set-aside copy has a suffix after a dot). */
const TEMPLATE_NAME = /^pglite-\d[0-9A-Za-z.+-]*-[0-9a-f]{16}$/;

/** Where new databases come from: a template (published by another process, or by this one first), initdb, or a data directory that already held one. */
export type PgliteSource = 'template' | 'built-template' | 'initdb' | 'existing';

interface Manifest {
  format: number;
  pglite: string;
  startParams: string[];
  /** the preparation's key (TemplatePreparation), or null for initdb's output alone */
  prepared?: string | null;
  /** unique per build: a template read in full is one build's */
  build: string;
  dirs: string[];
  /** relative path and size; PG_VERSION last */
  files: Array<[string, number]>;
}

/** The project's cache outside any checkout: MLOPS_CACHE_DIR, else $XDG_CACHE_HOME/gitops-mlops, else ~/.cache/gitops-mlops. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MLOPS_CACHE_DIR) return env.MLOPS_CACHE_DIR;
  // The XDG spec ignores a relative XDG_CACHE_HOME.
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'gitops-mlops');
  return join(homedir(), '.cache', 'gitops-mlops');
}

let pgliteVersionRead: string | undefined;
/** The installed PGlite's version (its package.json is outside the package's exports: found from its entry point). */
function pgliteVersion(): string {
  if (pgliteVersionRead) return pgliteVersionRead;
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite' && pkg.version) return (pgliteVersionRead = pkg.version);
    } catch {
      /* no package.json here: look further up */
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('the installed @electric-sql/pglite has no package.json');
    dir = up;
  }
}

/**
 * What a template holds beyond initdb's output: run on the new database before it is shut down
 * (the project's migrations, for callers that migrate a new database at once anyway), named by
 * `key`, which must change whenever what `run` does changes.
 */
export interface TemplatePreparation {
  key: string;
  run(pg: PGlite): Promise<void>;
}

/** The template of this PGlite, these start parameters and this preparation (none: initdb's output alone), under the cache. */
export function templateDir(startParams: readonly string[], env: NodeJS.ProcessEnv = process.env, prepared: string | null = null): string {
  const version = pgliteVersion();
  const key = sha256Hex(JSON.stringify({ format: TEMPLATE_FORMAT, pglite: version, startParams, ...(prepared ? { prepared } : {}) })).slice(0, 16);
  return join(cacheDir(env), 'pglite-template', `pglite-${version}-${key}`);
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** A template's identity: the start parameters and the preparation's key. */
interface TemplateSpec {
  startParams: readonly string[];
  prepared: string | null;
}

/** The template's manifest, if it is one of this PGlite, these start parameters and this preparation. */
function readManifest(dir: string, spec: TemplateSpec): Manifest | null {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return null;
  }
  const ok =
    m.format === TEMPLATE_FORMAT &&
    m.pglite === pgliteVersion() &&
    JSON.stringify(m.startParams) === JSON.stringify(spec.startParams) &&
    (m.prepared ?? null) === spec.prepared &&
    typeof m.build === 'string' &&
    Array.isArray(m.dirs) &&
    Array.isArray(m.files) &&
    m.files.at(-1)?.[0] === 'PG_VERSION';
  return ok ? m : null;
}

/** Directories and files under `root`, relative, parents before children; PG_VERSION (a cluster's sign of life) last. */
function walk(root: string): { dirs: string[]; files: Array<[string, number]> } {
  const dirs: string[] = [];
  const files: Array<[string, number]> = [];
  const visit = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        dirs.push(path);
        visit(path);
      } else if (e.isFile()) {
        files.push([path, statSync(join(root, path)).size]);
      }
    }
  };
  visit('');
  files.sort((a, b) => Number(a[0] === 'PG_VERSION') - Number(b[0] === 'PG_VERSION'));
  return { dirs, files };
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A directory's entries made durable, where the platform can open a directory (not Windows). */
function fsyncDir(path: string): void {
  try {
    fsyncPath(path);
  } catch {
    /* best effort: the files themselves are synced */
  }
}

/** Builders' leftovers of this template (temporary or replaced ones) that nobody will finish or remove. */
function removeAbandoned(dir: string): void {
  const parent = dirname(dir);
  const prefix = `${dir.slice(parent.length + 1)}.`;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    try {
      if (Date.now() - statSync(join(parent, name)).mtimeMs > ABANDONED_BUILD_MS) rmSync(join(parent, name), { recursive: true, force: true });
    } catch {
      /* another process removed it */
    }
  }
}

/** Records that the template serves (the manifest's mtime), so that a later publish keeps it. */
function markUsed(dir: string): void {
  try {
    const manifest = join(dir, MANIFEST);
    if (Date.now() - statSync(manifest).mtimeMs < USE_MARK_MS) return;
    const now = new Date();
    utimesSync(manifest, now, now);
  } catch {
    /* no template yet, or a read-only cache (whose templates nobody here removes) */
  }
}

/**
 * The cache's other templates unused for STALE_TEMPLATE_MS, and what an interrupted removal left:
 * each is renamed aside first, so a process that starts reading it meanwhile finds files missing
 * and builds its own (as for a damaged template), never a half-removed one.
 */
function removeStale(dir: string, now = Date.now()): void {
  const parent = dirname(dir);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === basename(dir)) continue;
    const path = join(parent, name);
    try {
      if (/^pglite-.*\.stale-\d+-[0-9a-f]+$/.test(name)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (!TEMPLATE_NAME.test(name)) continue;
      let used: number;
      try {
        used = statSync(join(path, MANIFEST)).mtimeMs;
      } catch {
        used = statSync(path).mtimeMs; // no manifest: a damaged template, aged by its directory
      }
      if (now - used < STALE_TEMPLATE_MS) continue;
      const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      renameSync(path, aside);
      rmSync(aside, { recursive: true, force: true });
    } catch {
      /* another process removed or replaced it first */
    }
  }
}

/**
 * Runs initdb once, in a PGlite on a temporary directory beside the template, and publishes it by
 * rename. `damaged`: the build of a template found unusable, moved aside if it is still there.
 * False when the cache cannot be written (a read-only home, a full disk): the caller runs initdb
 * itself, as PGlite would.
 */
async function buildTemplate(
  dir: string,
  spec: TemplateSpec,
  damaged: string | null,
  env: NodeJS.ProcessEnv,
  preparation?: TemplatePreparation,
): Promise<boolean> {
  const { startParams } = spec;
  const temp = `${dir}.build-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(temp, { recursive: true });
  } catch (err) {
    warnUnwritable(dir, err);
    return false;
  }
  let preparing = false;
  try {
    removeAbandoned(dir);
    if (preparation) {
      // initdb's output from its own template, then the preparation
      const { pg } = await createPglite(join(temp, 'data'), startParams, env);
      try {
        preparing = true;
        await preparation.run(pg);
        preparing = false;
      } finally {
        await pg.close();
      }
    } else {
      const pg = await PGlite.create(join(temp, 'data'), { startParams: [...startParams] });
      await pg.close();
    }
    const { dirs, files } = walk(join(temp, 'data'));
    // Durable before it is published: a template with a file's size but not its bytes would pass the size checks.
    for (const [path] of files) fsyncPath(join(temp, 'data', path));
    const manifest: Manifest = {
      format: TEMPLATE_FORMAT,
      pglite: pgliteVersion(),
      startParams: [...startParams],
      prepared: spec.prepared,
      build: randomBytes(8).toString('hex'),
      dirs,
      files,
    };
    writeFileSync(join(temp, MANIFEST), JSON.stringify(manifest));
    fsyncPath(join(temp, MANIFEST));
    fsyncDir(temp);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        renameSync(temp, dir);
        fsyncDir(dirname(dir));
        removeStale(dir);
        return true;
      } catch (err) {
        if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST') throw err;
      }
      // Another process published first: its template serves, unless it is the damaged one.
      const theirs = readManifest(dir, spec);
      if (theirs && theirs.build !== damaged) {
        rmSync(temp, { recursive: true, force: true });
        return true;
      }
      const aside = `${dir}.replaced-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(dir, aside);
        rmSync(aside, { recursive: true, force: true });
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    throw new Error('the template kept being replaced');
  } catch (err) {
    // Cannot be written (or kept being replaced): this process runs initdb itself. (A preparation
    // that fails, a broken migration, is reported by the caller's own run of it, not here.)
    if (!preparing) warnUnwritable(dir, err);
    try {
      rmSync(temp, { recursive: true, force: true });
    } catch {
      /* what is left is removed by a later build (removeAbandoned) */
    }
    return false;
  }
}

const warnedDirs = new Set<string>();

/** Once per process and template: the cache is not usable, so every new database pays for initdb. */
function warnUnwritable(dir: string, err: unknown): void {
  if (warnedDirs.has(dir)) return;
  warnedDirs.add(dir);
  process.emitWarning(
    `cannot keep the embedded database's template in ${dirname(dir)} (${(err as Error).message}): every new PGlite database runs initdb instead (~4 s); point MLOPS_CACHE_DIR at a writable directory`,
    { code: 'MLOPS_PGLITE_TEMPLATE' },
  );
}

/** The template's files read in full, or null if any is missing, of another size, or the template was replaced meanwhile. */
function readTemplate(dir: string, spec: TemplateSpec): { manifest: Manifest; files: Array<[string, Buffer]> } | null {
  const manifest = readManifest(dir, spec);
  if (!manifest) return null;
  const files: Array<[string, Buffer]> = [];
  try {
    for (const [path, size] of manifest.files) {
      const bytes = readFileSync(join(dir, 'data', path));
      if (bytes.length !== size) return null;
      files.push([path, bytes]);
    }
  } catch {
    return null;
  }
  return readManifest(dir, spec)?.build === manifest.build ? { manifest, files } : null;
}

/** What openPglite needs of Emscripten's file system. */
interface EmscriptenFs {
  mkdirTree(path: string): void;
  mkdir(path: string): void;
  writeFile(path: string, data: Uint8Array, opts: { canOwn: boolean }): void;
}

/**
 * PGlite's in-memory file system, holding the template's files before PostgreSQL starts: PGlite
 * then finds a cluster and runs no initdb. Cheaper than loadDataDir's tar (~0.2 s of CPU and
 * ~120 MB less: no archive to build and unpack, and the file system keeps the bytes read).
 */
class TemplateMemoryFS extends MemoryFS {
  readonly #dirs: string[];
  #files: Array<[string, Buffer]>;

  constructor(dirs: string[], files: Array<[string, Buffer]>) {
    super();
    this.#dirs = dirs;
    this.#files = files;
  }

  override async initialSyncFs(): Promise<void> {
    const fs = this.pg!.Module.FS as unknown as EmscriptenFs;
    fs.mkdirTree(PGDATA);
    for (const d of this.#dirs) fs.mkdir(`${PGDATA}/${d}`);
    // canOwn: the file system keeps each buffer (read for it alone) rather than a copy.
    for (const [path, bytes] of this.#files) fs.writeFile(`${PGDATA}/${path}`, bytes, { canOwn: true });
    this.#files = [];
  }
}

/** A data directory's state: a cluster, new (nothing but its lock, or an unfinished fill of ours), or anything else (left to PGlite, as before). */
function dataDirState(dataDir: string): { state: 'cluster' } | { state: 'other' } | { state: 'new'; leftovers: string[] } {
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch (err) {
    if (errno(err) === 'ENOENT') return { state: 'new', leftovers: [] };
    throw err;
  }
  if (names.includes('PG_VERSION')) return { state: 'cluster' };
  const leftovers = names.filter((n) => n !== LOCK_FILE && n !== `${LOCK_FILE}.break`);
  return leftovers.length === 0 || leftovers.includes(FILL_MARKER) ? { state: 'new', leftovers } : { state: 'other' };
}

/** Removes what a fill left in the data directory (the marker last, so an interrupted clear is cleared again). */
function clearFill(dataDir: string, names: readonly string[]): void {
  for (const name of names) if (name !== FILL_MARKER) rmSync(join(dataDir, name), { recursive: true, force: true });
  rmSync(join(dataDir, FILL_MARKER), { force: true });
}

/** The template cannot serve (replaced during the fill, a file missing or of another size): rebuild it. */
class TemplateUnusable extends Error {}

/**
 * Copies the template into a new data directory; PG_VERSION, which makes it a cluster, last. False
 * (and the directory cleared) if the template is unusable; an error of the data directory's own (a
 * full disk, no permission) is thrown as it is, naming the directory: rebuilding the template would
 * not help.
 */
function fillFromTemplate(dir: string, spec: TemplateSpec, dataDir: string): boolean {
  const manifest = readManifest(dir, spec);
  if (!manifest) return false;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, FILL_MARKER), '');
  const copied: string[] = [];
  try {
    for (const d of manifest.dirs) {
      mkdirSync(join(dataDir, d));
      if (!d.includes('/')) copied.push(d);
    }
    for (const [path, size] of manifest.files) {
      // One build's files only: checked before PG_VERSION turns them into a cluster.
      if (path === 'PG_VERSION' && readManifest(dir, spec)?.build !== manifest.build) throw new TemplateUnusable('the template was replaced');
      if (!path.includes('/')) copied.push(path);
      copyFileSync(join(dir, 'data', path), join(dataDir, path));
      if (statSync(join(dataDir, path)).size !== size) throw new TemplateUnusable(`${path}: not the template's size`);
    }
  } catch (err) {
    clearFill(dataDir, copied);
    const templateFile = errno(err) === 'ENOENT' && (err as NodeJS.ErrnoException).path?.startsWith(join(dir, 'data'));
    if (err instanceof TemplateUnusable || templateFile) return false;
    throw new Error(`cannot create the database in ${dataDir} (copying the cached initdb template from ${dir}): ${(err as Error).message}`, { cause: err });
  }
  unlinkSync(join(dataDir, FILL_MARKER));
  return true;
}

/**
 * A PGlite instance on `dataDir` (undefined: in memory). A new database starts from the template
 * (built first if there is none, or if it is damaged); an existing data directory is opened as it
 * is. Without a usable template and a cache to build one in, PGlite runs initdb as it always did.
 * With a `preparation`, a new database starts from a template that also holds what it did (built
 * from initdb's template); when that one cannot be built, from initdb's template alone.
 */
export async function createPglite(
  dataDir: string | undefined,
  startParams: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  preparation?: TemplatePreparation,
): Promise<{ pg: PGlite; source: PgliteSource }> {
  const plain = (source: PgliteSource) => PGlite.create(dataDir, { startParams: [...startParams] }).then((pg) => ({ pg, source }));
  let leftovers: string[] = [];
  if (dataDir !== undefined) {
    const s = dataDirState(dataDir);
    if (s.state === 'cluster') return plain('existing');
    if (s.state === 'other') return plain('initdb');
    leftovers = s.leftovers;
  }
  const spec: TemplateSpec = { startParams, prepared: preparation?.key ?? null };
  const dir = templateDir(startParams, env, spec.prepared);
  markUsed(dir); // before it is read: a publish meanwhile keeps it
  let built = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (dataDir === undefined) {
      const template = readTemplate(dir, spec);
      if (template) {
        const fs = new TemplateMemoryFS(template.manifest.dirs, template.files);
        const pg = await PGlite.create({ fs, startParams: [...startParams] });
        return { pg, source: built ? 'built-template' : 'template' };
      }
    } else {
      if (leftovers.length > 0) clearFill(dataDir, leftovers);
      leftovers = [];
      if (fillFromTemplate(dir, spec, dataDir)) return plain(built ? 'built-template' : 'template');
    }
    if (attempt === 1 || !(await buildTemplate(dir, spec, readManifest(dir, spec)?.build ?? null, env, preparation))) break;
    built = true;
  }
  if (preparation) return createPglite(dataDir, startParams, env);
  return plain('initdb');
}
