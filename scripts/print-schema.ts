/**
 * `npm run schema`: writes the GraphQL schema built from the code to ./schema.graphql (sorted, so the
 * file changes only when the schema does). test/api/schema.unit.test.ts fails when it is stale.
 */
import { writeFile } from "node:fs/promises";
import { printSortedSchema } from "../src/api/schema.js";

const target = new URL("../schema.graphql", import.meta.url);
await writeFile(target, printSortedSchema());
console.log(`wrote ${target.pathname}`);
