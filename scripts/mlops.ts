/**
 * The command-line interface: `npm run mlops -- <command>`. A thin adapter over the same library
 * functions the GitHub Actions call.
 */
import { runCli } from './cli.ts';
import { commands } from './commands/index.ts';

// `mlops ... | head`: a reader that stops reading is not an error of the command.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });

process.exitCode = await runCli(commands, process.argv.slice(2));
