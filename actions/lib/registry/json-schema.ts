import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { registrySchema } from './schema.ts';

export const REGISTRY_JSON_SCHEMA_FILE = 'registry/production.schema.json';

/** The JSON Schema of registry/production.json (for editors), as committed: pretty, final newline. */
export function registryJsonSchemaText(): string {
  const schema = z.toJSONSchema(registrySchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** Regenerates the committed JSON Schema; returns whether the file changed. */
export function writeRegistryJsonSchema(file = REGISTRY_JSON_SCHEMA_FILE): { file: string; text: string } {
  const text = registryJsonSchemaText();
  writeFileSync(file, text);
  return { file, text };
}
