import { writeRegistryJsonSchema } from '../../actions/lib/registry/json-schema.ts';
import { command, type Command } from '../cli.ts';

export const registryCommands: Record<string, Command> = {
  'registry schema': command({
    async run(ctx) {
      const file = 'registry/production.schema.json';
      writeRegistryJsonSchema(file);
      ctx.out(`wrote ${file}`);
    },
  }),
};
