import { migrate } from '../../actions/lib/db/migrate.ts';
import { DEFAULT_DATA_DIR, openDb } from '../../actions/lib/db/index.ts';
import { command, type Command } from '../cli.ts';

export const dbCommands: Record<string, Command> = {
  'db migrate': command({
    async run(ctx) {
      const db = await openDb({ url: ctx.values['database-url'], dataDir: ctx.values['data-dir'] ?? DEFAULT_DATA_DIR });
      try {
        const r = await migrate(db);
        if (ctx.values.json) ctx.json({ database: db.location, ...r });
        else {
          ctx.out(`database: ${db.location} (${db.backend})`);
          ctx.out(r.applied.length ? `applied: ${r.applied.join(', ')}` : `up to date (${r.alreadyApplied.length} migrations)`);
        }
      } finally {
        await db.close();
      }
    },
  }),
};
