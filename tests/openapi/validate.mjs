// Usage: node validate.mjs FILE.json — exits 0 when FILE is a valid OpenAPI
// 3.1 document, 1 with the validator's errors otherwise.
import { Validator } from "@seriousme/openapi-schema-validator";
import { readFileSync } from "node:fs";

const validator = new Validator();
const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const res = await validator.validate(doc);
if (!res.valid) {
  console.error(JSON.stringify(res.errors, null, 2).slice(0, 20000));
  process.exit(1);
}
if (validator.version !== "3.1") {
  console.error(`document is OpenAPI ${validator.version}, not 3.1`);
  process.exit(1);
}
console.log("valid OpenAPI " + validator.version);
