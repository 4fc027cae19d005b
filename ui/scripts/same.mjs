// Fails when the committed API types differ from the ones generated from docs/openapi.json:
// `npm run gen:api` regenerates them after an API change.
import { readFileSync } from "node:fs";

const [committed, fresh] = process.argv.slice(2);
if (readFileSync(committed, "utf8") !== readFileSync(fresh, "utf8")) {
  console.error(
    `${committed} is out of date with docs/openapi.json: run \`npm run gen:api\` in ui/ and commit it`,
  );
  process.exit(1);
}
