import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { describeDb } from './helpers/db.ts';
import { openDb, type Db } from '../actions/lib/db/index.ts';
import { ensureReadingsTable } from '../actions/lib/demo-data/table.ts';
import { extractFrame } from '../actions/lib/source/extract.ts';
import { loadPipelineFile } from '../actions/lib/config/load.ts';

const pump = loadPipelineFile('pipelines/pump-efficiency.yaml');

/**
 * Derive expressions are the pipeline owner's SQL and run with the privileges of whoever reads the
 * source (issue #10, part 8). On PostgreSQL the extraction gets its own least-privilege role
 * (MLOPS_SOURCE_DATABASE_URL), checked before use; on PGlite one role runs in a WASM sandbox.
 */
describeDb('least privilege for the extraction', ({ db, backend, fresh }) => {
  it.runIf(backend === 'pglite')('PGlite: server-file functions see no host file, and the source is read READ ONLY', async () => {
    await expect(db().readSource((tx) => tx.query("SELECT pg_read_file('/etc/passwd')"))).rejects.toThrow(/could not open file "\/etc\/passwd"/);
    await ensureReadingsTable(db());
    await expect(db().readSource((tx) => tx.query("INSERT INTO public.readings_wide (ts, station_id) VALUES (now(), 'x')"))).rejects.toThrow(
      /read-only transaction/,
    );
    await expect(openDb({ ignoreEnv: true, sourceUrl: 'postgres://reader@127.0.0.1/plant' })).rejects.toThrow(
      'MLOPS_SOURCE_DATABASE_URL (a separate extraction role) needs PostgreSQL: the embedded database (PGlite) has one role',
    );
  });

  describe.runIf(backend === 'postgres')('PostgreSQL', () => {
    const suffix = randomBytes(4).toString('hex');
    const reader = `mlops_reader_${suffix}`;
    const writer = `mlops_writer_${suffix}`;
    const as = (role: string): string => {
      const u = new URL(fresh().url!);
      u.username = role;
      u.password = '';
      return u.toString();
    };
    let extraction: Db;
    beforeAll(async () => {
      await ensureReadingsTable(db());
      await db().query(
        "INSERT INTO public.readings_wide (ts, station_id, inflow_m3h, pump_speed_rpm, pump_power_kw, suction_pressure_bar, discharge_pressure_bar, pump_on, sensor_fault) VALUES ('2026-10-01T00:00:00Z', 'PS-001', 100, 1450, 20, 1, 4, 1, 0)",
      );
      // The documented role: it can connect and read the source table, nothing else.
      const dbName = new URL(fresh().url!).pathname.slice(1);
      await db().exec(`CREATE ROLE ${reader} LOGIN; GRANT CONNECT ON DATABASE "${dbName}" TO ${reader}; GRANT USAGE ON SCHEMA public TO ${reader};
        GRANT SELECT ON public.readings_wide TO ${reader};
        CREATE ROLE ${writer} LOGIN; GRANT CONNECT ON DATABASE "${dbName}" TO ${writer}; GRANT USAGE ON SCHEMA public TO ${writer};
        GRANT SELECT, INSERT ON public.readings_wide TO ${writer};`);
      extraction = await openDb({ url: fresh().url, sourceUrl: as(reader) });
    });
    afterAll(async () => {
      await extraction?.close();
      // Roles belong to the server: their grants go with DROP OWNED (also on the database), then they go.
      await db().exec(`DROP OWNED BY ${reader}, ${writer}; DROP ROLE ${reader}, ${writer}`);
    });

    it('extracts through the reader role, READ ONLY', async () => {
      const who = await extraction.readSource((tx) => tx.query<{ u: string }>('SELECT current_user AS u'));
      expect(who.rows[0].u).toBe(reader);
      const frame = await extractFrame(extraction, pump.source, new Date('2026-10-02T00:00:00Z'));
      expect(frame.rows).toBe(1);
    });

    it('a derive expression can neither read server files nor write, whichever way it asks', async () => {
      // First line: the screen refuses the call by name (validate and the retrain alike).
      const leak = { ...pump.source, derive: { ...pump.source.derive, leak: "length(pg_read_file('/etc/hostname'))" } };
      await expect(extractFrame(extraction, leak, new Date('2026-10-02T00:00:00Z'))).rejects.toThrow(
        /source\.derive\.leak: calls pg_read_file\(\), which reads files on the database server/,
      );
      // The boundary: as the reader, the functions themselves are refused by the server.
      const asReader = (sql: string) => extraction.readSource((tx) => tx.query(sql));
      await expect(asReader("SELECT pg_read_file('/etc/hostname')")).rejects.toThrow(/permission denied for function pg_read_file/);
      await expect(asReader("SELECT query_to_xml('SELECT pg_read_file(''/etc/hostname'')', true, false, '')")).rejects.toThrow(
        /permission denied for function pg_read_file/,
      );
      await expect(asReader("SELECT lo_import('/etc/hostname')")).rejects.toThrow(/permission denied|read-only/);
      await expect(asReader(`SET ROLE ${new URL(process.env.DATABASE_URL!).username || 'postgres'}`)).rejects.toThrow(/permission denied to set role/);
      // ... and nothing is written: not by the reader, not even where it could (READ ONLY).
      await expect(asReader("INSERT INTO public.readings_wide (ts, station_id) VALUES (now(), 'x')")).rejects.toThrow(
        /read-only transaction|permission denied/,
      );
      await expect(asReader('CREATE TABLE public.evil (x int)')).rejects.toThrow(/read-only transaction|permission denied/);
      const nextval = { ...pump.source, derive: { ...pump.source.derive, n: "nextval('public.nope_seq')" } };
      await expect(extractFrame(extraction, nextval, new Date('2026-10-02T00:00:00Z'))).rejects.toThrow(/source\.derive\.n: /);
      expect((await db().query<{ n: number }>('SELECT count(*)::int AS n FROM public.readings_wide')).rows[0].n).toBe(1);
    });

    it('refuses an extraction role that is not least-privilege, saying why', async () => {
      for (const [role, why] of [
        [new URL(process.env.DATABASE_URL!).username || 'postgres', /is a superuser/],
        [writer, new RegExp(`role "${writer}" can write table readings_wide`)],
      ] as const) {
        const wide = await openDb({ url: fresh().url, sourceUrl: as(role) });
        try {
          await expect(extractFrame(wide, pump.source, new Date('2026-10-02T00:00:00Z'))).rejects.toThrow(
            /^MLOPS_SOURCE_DATABASE_URL \(postgres:\/\/.+\) is not a least-privilege role: /,
          );
          await expect(wide.readSource(async () => 1)).rejects.toThrow(why);
        } finally {
          await wide.close();
        }
      }
    });
  });
});
