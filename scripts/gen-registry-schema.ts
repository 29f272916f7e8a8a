// Regenerates registry/production.schema.json from the zod schema in actions/lib/registry/schema.ts.
// Run after changing that schema: `tsx scripts/gen-registry-schema.ts` (test/registry-schema.test.ts
// fails while the committed file is stale).
import { writeRegistryJsonSchema } from '../actions/lib/registry/json-schema.ts';

const { file } = writeRegistryJsonSchema(process.argv[2]);
console.log(`wrote ${file}`);
