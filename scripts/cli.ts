import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_DATA_DIR, openMigratedDb, scrubSecret, type Db } from '../actions/lib/db/index.ts';
import { failRunsOnSignal } from '../actions/lib/retrain/interrupt.ts';

/** The command-line adapter's plumbing: options, database, output. No pipeline logic lives here. */

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The values parseArgs gives for a command's options and the global ones, typed by their declarations. */
export type ValuesOf<O extends Options> = ReturnType<typeof parseArgs<{ options: O & typeof globalOptions; allowPositionals: true; strict: true }>>['values'];

export interface Context<O extends Options = Options> {
  values: ValuesOf<O>;
  positionals: string[];
  /** opens (once) the database named by --database-url / DATABASE_URL, or the embedded one under --data-dir */
  db(): Promise<Db>;
  out(line?: string): void;
  json(value: unknown): void;
}

export interface Command<O extends Options = Options> {
  usage?: string;
  options?: O;
  /** returns the process exit code */
  run(ctx: Context<O>): Promise<number | void>;
  /** a long-running command that stops itself on SIGTERM / SIGINT (the server): no run-failing handlers */
  handlesSignals?: boolean;
  /** a long-running command whose event loop must stay free (the server): the embedded database runs on a worker thread */
  databaseThread?: boolean;
}

/**
 * Declares a command: its options' declarations type `ctx.values` in `run` (`ctx.values.pipeline`
 * is a string or undefined; a misspelt option name does not compile).
 */
export function command<const O extends Options>(c: Command<O>): Command {
  return c as unknown as Command;
}

/** A command as the table in commands/index.ts lists it: its summary, and the group module that holds it (loaded on use). */
export interface CommandEntry {
  summary: string;
  group(): Promise<Record<string, Command>>;
}

export { UsageError } from '../actions/lib/util/usage-error.ts';
import { UsageError } from '../actions/lib/util/usage-error.ts';
import { toJson } from '../actions/lib/util/json.ts';
import { parseDuration, type DurationUnit } from '../actions/lib/util/duration.ts';

export const globalOptions = {
  'database-url': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** A string option's value (for code that reads options by a name it is given). */
export function str<V extends Values>(values: V, name: keyof V & string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** What a numeric option must be; the message names it. */
export interface NumberRule {
  integer?: boolean;
  /** at least */
  min?: number;
  /** more than */
  above?: number;
}

/** A numeric option, checked (`--limit=-5`, `--to abc` are usage errors that say what is expected). */
export function num<V extends Values>(values: V, name: keyof V & string, fallback: number, rule: NumberRule = {}): number {
  const v = str(values, name);
  if (v === undefined) return fallback;
  const n = v.trim() === '' ? Number.NaN : Number(v);
  const ok =
    Number.isFinite(n) && (!rule.integer || Number.isInteger(n)) && (rule.min === undefined || n >= rule.min) && (rule.above === undefined || n > rule.above);
  if (!ok) {
    const bound = rule.min !== undefined ? ` >= ${rule.min}` : rule.above !== undefined ? ` > ${rule.above}` : '';
    throw new UsageError(`--${name}: expected ${rule.integer ? 'a whole number' : 'a number'}${bound}, got "${v}"`);
  }
  return n;
}

/** Edit distance, for suggesting the command a typo meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The command nearest to what was typed, when one is near enough to be what was meant. */
export function nearestCommand(argv: string[], names: string[]): string | null {
  const words = argv.filter((a) => !a.startsWith('-'));
  let best: { name: string; d: number } | null = null;
  for (const name of names) {
    const typed = words.slice(0, name.split(' ').length).join(' ');
    const d = distance(typed, name);
    if (d <= Math.max(2, Math.floor(name.length / 3)) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name ?? null;
}

/** A duration option (`90m`, `24h`, `2d`; a bare number counts in `bareUnit`), in milliseconds; `fallbackMs` when it is not given. */
export function duration<V extends Values>(values: V, name: keyof V & string, fallbackMs: number, bareUnit?: DurationUnit): number {
  const v = str(values, name);
  if (v === undefined) return fallbackMs;
  const ms = parseDuration(v, bareUnit);
  if (ms === null || !(ms > 0)) throw new UsageError(`--${name}: expected a duration such as 90m, 24h or 7d, got "${v}"`);
  return ms;
}

export function date<V extends Values>(values: V, name: keyof V & string): Date | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  const d = /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T00:00:00Z`) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${name}: expected an ISO-8601 date or time, got "${v}"`);
  return d;
}

/** The value of --database-url in raw arguments (`--database-url URL` or `--database-url=URL`). */
function databaseUrlOption(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--database-url') return args[i + 1];
    if (args[i].startsWith('--database-url=')) return args[i].slice('--database-url='.length);
  }
  return undefined;
}

export async function runCli(commands: Record<string, CommandEntry>, argv: string[]): Promise<number> {
  const names = Object.keys(commands).sort((a, b) => b.split(' ').length - a.split(' ').length);
  const name = names.find((n) => {
    const words = n.split(' ');
    return words.every((w, i) => argv[i] === w);
  });
  const asksHelp = argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h';
  if (!name && !asksHelp) {
    // One word, or two when the first names a group of commands (`runs lst`).
    const group = Object.keys(commands).some((n) => n.startsWith(`${argv[0]} `));
    const typed = argv[0].startsWith('-') ? '' : argv.slice(0, group && argv[1] && !argv[1].startsWith('-') ? 2 : 1).join(' ');
    const near = nearestCommand(typed.split(' '), Object.keys(commands));
    console.error(
      typed
        ? `mlops: unknown command "${typed}"${near ? `; did you mean "${near}"?` : ''} (npm run mlops -- --help lists the commands)`
        : 'mlops: the command comes first, then its options (npm run mlops -- --help lists the commands)',
    );
    return 2;
  }
  if (!name || asksHelp) {
    const width = Math.max(...Object.keys(commands).map((n) => n.length));
    console.log('usage: npm run mlops -- <command> [options]\n\ncommands:');
    for (const [n, c] of Object.entries(commands)) console.log(`  ${n.padEnd(width)}  ${c.summary}`);
    console.log('\nglobal options: --database-url URL (or DATABASE_URL; default: embedded PGlite in --data-dir, .mlops/db), --json');
    return 0;
  }
  const entry = commands[name];
  const command = (await entry.group())[name];
  if (!command) throw new Error(`mlops: the command table names "${name}" but its module does not define it`);
  const rest = argv.slice(name.split(' ').length);
  let db: Db | undefined;
  // SIGTERM / SIGINT: the runs in progress are recorded as failed and the database closed before exit.
  const removeSignalHandlers = command.handlesSignals
    ? () => undefined
    : failRunsOnSignal({ log: (line) => console.error(line), cleanup: async () => db?.close() });
  // The connection strings whose passwords an error message must not show, read before parsing so
  // that a parse error is scrubbed too.
  const secretUrls = [databaseUrlOption(rest), process.env.DATABASE_URL, process.env.MLOPS_SOURCE_DATABASE_URL];
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...globalOptions, ...command.options }, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(`usage: npm run mlops -- ${name} ${command.usage ?? ''}\n\n${entry.summary}`);
      return 0;
    }
    const ctx: Context = {
      values: values as Values,
      positionals,
      async db() {
        if (!db) {
          ({ db } = await openMigratedDb({
            url: str(values as Values, 'database-url'),
            dataDir: str(values as Values, 'data-dir') ?? DEFAULT_DATA_DIR,
            onWait: (message) => console.error(`mlops ${name}: ${message}`),
            worker: command.databaseThread,
          }));
        }
        return db;
      },
      out: (line = '') => console.log(line),
      json: (value) => console.log(toJson(value, 2)),
    };
    const code = await command.run(ctx);
    return code ?? 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`mlops ${name}: ${secretUrls.reduce<string>((m, url) => scrubSecret(m, url || undefined), message)}`);
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`usage: npm run mlops -- ${name} ${command.usage ?? ''}`);
      return 2;
    }
    return 1;
  } finally {
    removeSignalHandlers();
    await db?.close();
  }
}
