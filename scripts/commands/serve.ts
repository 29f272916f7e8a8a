import { resolve } from 'node:path';
import { loadPipelines } from '../../actions/lib/config/load.ts';
import { gitHubTarget } from '../../actions/lib/github/client.ts';
import { runSweep } from '../../actions/lib/monitoring/sweep.ts';
import { startModelServer, type ModelServer } from '../../actions/lib/serve/index.ts';
import { DEPLOYMENTS_CHANNEL } from '../../actions/lib/tracking/deployments.ts';
import { command, type Command, num } from '../cli.ts';

/**
 * `mlops serve`: the model server (actions/lib/serve) in the foreground until SIGTERM or SIGINT,
 * which stop it gracefully: no new connections, requests in flight answered, the prediction log
 * written, then exit 0. SIGHUP makes it check mlops.deployments now (as a NOTIFY or the poll does).
 */
export const serveCommands: Record<string, Command> = {
  serve: command({
    usage: '[--port 8080] [--host 127.0.0.1] [--repo DIR] [--poll-seconds 2] [--body-limit-kb 1024] [--sweep-minutes N [--dir pipelines]]',
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      repo: { type: 'string' },
      'poll-seconds': { type: 'string' },
      'body-limit-kb': { type: 'string' },
      'sweep-minutes': { type: 'string' },
      dir: { type: 'string' },
    },
    handlesSignals: true,
    databaseThread: true,
    async run(ctx) {
      // Taken first: SIGHUP's default ends the process. Until the server runs there is nothing to
      // check (its start reads the table).
      let server: ModelServer | null = null;
      const log = (line: string): void => console.error(line);
      const onHangUp = (): void => {
        if (!server) return;
        log('mlops serve: SIGHUP: checking mlops.deployments now');
        void server.refresh('signal');
      };
      process.on('SIGHUP', onHangUp);
      try {
        const port = num(ctx.values, 'port', 8080, { integer: true, min: 0 });
        if (port > 65535) throw new Error(`--port: expected a port number up to 65535, got ${port}`);
        const pollMs = num(ctx.values, 'poll-seconds', 2, { above: 0 }) * 1000;
        const bodyLimit = Math.round(num(ctx.values, 'body-limit-kb', 1024, { above: 0 }) * 1024);
        const sweepMinutes = num(ctx.values, 'sweep-minutes', 0, { min: 0 });
        const db = await ctx.db();
        let sweep = null;
        if (sweepMinutes > 0) {
          const pipelines = loadPipelines(ctx.values.dir ?? 'pipelines').map((p) => p.config);
          const github = gitHubTarget({ log });
          sweep = {
            everyMs: sweepMinutes * 60_000,
            run: async () => {
              const hook = process.env.MLOPS_WEBHOOK_URL;
              await runSweep(db, pipelines, { asOf: new Date(), github, webhook: hook ? { url: hook } : null, log });
            },
          };
        }
        server = await startModelServer({
          db,
          repoDir: resolve(ctx.values.repo ?? '.'),
          host: ctx.values.host ?? '127.0.0.1',
          port,
          pollMs,
          bodyLimit,
          sweep,
          log,
        });
        const models = server.store.list();
        ctx.out(
          `mlops serve: listening on ${server.url} (database ${db.location}); serving ${models.length ? models.map((m) => `${m.name} v${m.version}`).join(', ') : 'no model yet'}; ` +
            `deploys heard by NOTIFY ${DEPLOYMENTS_CHANNEL}${db.backend === 'pglite' ? " (on PGlite, this process's own only)" : ''}, SIGHUP (pid ${process.pid}) and a poll every ${pollMs / 1000} s` +
            `${sweep ? `; alert sweep every ${sweepMinutes} min` : ''}`,
        );
        for (const p of server.store.problemsList()) log(`mlops serve: ${p.model} v${p.version} not loaded: ${p.error}`);
        const signal = await new Promise<NodeJS.Signals>((done) => {
          process.once('SIGTERM', () => done('SIGTERM'));
          process.once('SIGINT', () => done('SIGINT'));
        });
        ctx.out(`mlops serve: ${signal}: stopping (answering requests in flight, writing the prediction log)`);
        await server.close();
        ctx.out('mlops serve: stopped');
        return 0;
      } finally {
        process.removeListener('SIGHUP', onHangUp);
      }
    },
  }),
};
