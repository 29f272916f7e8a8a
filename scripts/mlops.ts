/**
 * The command-line interface: `npm run mlops -- <command>`. A thin adapter over the same library
 * functions the GitHub Actions call.
 */
import { runCli } from './cli.ts';
import { commands } from './commands/index.ts';

process.exitCode = await runCli(commands, process.argv.slice(2));
