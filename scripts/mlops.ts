/**
 * The command-line interface: `npm run mlops -- <command>`. A thin adapter over the same library
 * functions the GitHub Actions call.
 */
import { runCli, type Command } from './cli.ts';
import { dbCommands } from './commands/db.ts';
import { pipelineCommands } from './commands/pipelines.ts';
import { registryCommands } from './commands/registry.ts';
import { dataCommands } from './commands/data.ts';
import { retrainCommands } from './commands/retrain.ts';
import { gitopsCommands } from './commands/gitops.ts';
import { monitoringCommands } from './commands/monitoring.ts';
import { scoreCommands } from './commands/score.ts';
import { labelsCommands } from './commands/labels.ts';

const commands: Record<string, Command> = {
  ...dbCommands,
  ...dataCommands,
  ...labelsCommands,
  ...pipelineCommands,
  ...registryCommands,
  ...retrainCommands,
  ...gitopsCommands,
  ...monitoringCommands,
  ...scoreCommands,
};

process.exitCode = await runCli(commands, process.argv.slice(2));
