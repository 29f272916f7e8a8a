import { importCsv, seedCredit, seedReadings } from '../../actions/lib/demo-data/index.ts';
import { command, type Command, date, num, UsageError } from '../cli.ts';
import { fmtInt } from '../../actions/lib/report/format.ts';

export const dataCommands: Record<string, Command> = {
  'data seed': command({
    usage: '--days N [--dataset readings|credit] [--stations K | --per-day K] [--seed S] [--start DATE] [--drift-from DATE] [--table readings_wide]',
    options: {
      days: { type: 'string' },
      stations: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
      'drift-from': { type: 'string' },
      table: { type: 'string' },
      'long-gaps': { type: 'string' },
      dataset: { type: 'string' },
      'per-day': { type: 'string' },
    },
    async run(ctx) {
      if (ctx.values.days === undefined) throw new UsageError('--days N is required');
      const days = num(ctx.values, 'days', 0, { above: 0 });
      const dataset = ctx.values.dataset ?? 'readings';
      if (dataset !== 'readings' && dataset !== 'credit') throw new UsageError(`--dataset: expected readings or credit, got "${dataset}"`);
      if (dataset === 'credit') {
        if (!Number.isInteger(days)) throw new UsageError('--days: expected a whole number of days for --dataset credit');
        const perDay = num(ctx.values, 'per-day', 200, { above: 0 });
        const start = date(ctx.values, 'start') ?? new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - days * 86_400_000);
        const t0 = performance.now();
        const r = await seedCredit(await ctx.db(), { days, perDay, seed: num(ctx.values, 'seed', 42), start, driftFrom: date(ctx.values, 'drift-from') });
        const seconds = (performance.now() - t0) / 1000;
        if (ctx.values.json) return void ctx.json({ ...r, seconds });
        return void ctx.out(
          `seeded ${fmtInt(r.applications)} applications into public.loan_applications and the ${fmtInt(r.outcomes)} ` +
            `outcomes known by ${r.labelsUntil.toISOString()} into public.loan_outcomes (${r.start.toISOString()} -> ${r.end.toISOString()}) in ${seconds.toFixed(1)} s`,
        );
      }
      const stations = num(ctx.values, 'stations', 1, { integer: true, min: 1 });
      const start = date(ctx.values, 'start') ?? new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - days * 86_400_000);
      const db = await ctx.db();
      const t0 = performance.now();
      const r = await seedReadings(db, {
        days,
        stations,
        seed: num(ctx.values, 'seed', 42, { integer: true }),
        start,
        driftFrom: date(ctx.values, 'drift-from'),
        longGaps: num(ctx.values, 'long-gaps', 0, { integer: true, min: 0 }),
        table: ctx.values.table,
      });
      const seconds = (performance.now() - t0) / 1000;
      if (ctx.values.json) ctx.json({ ...r, seconds });
      else
        ctx.out(
          `seeded ${fmtInt(r.rows)} rows into ${r.table} (${r.stations.join(', ')}, ${r.start.toISOString()} -> ${r.end.toISOString()}) in ${seconds.toFixed(1)} s${r.replaced ? `; replaced ${fmtInt(r.replaced)} earlier rows` : ''}`,
        );
    },
  }),
  'data import': command({
    usage: '--csv FILE [--table readings_wide]',
    options: { csv: { type: 'string' }, table: { type: 'string' } },
    async run(ctx) {
      const file = ctx.values.csv;
      if (!file) throw new UsageError('--csv FILE is required');
      const r = await importCsv(await ctx.db(), file, { table: ctx.values.table });
      if (ctx.values.json) ctx.json(r);
      else ctx.out(`imported ${fmtInt(r.rows)} rows from ${r.file} into ${r.table} (${r.columns.join(', ')})`);
    },
  }),
};
