import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
const s = JSON.parse(readFileSync('/tmp/h3/schema.json', 'utf8'));
function walk(node: any, path: string, required: boolean) {
  if (!node || typeof node !== 'object') return;
  if (path && !path.endsWith("[]") && !path.endsWith("|") && !path.endsWith("{}") && !node.description) console.log('NO DESCRIPTION', path);
  if (path && !required && !('default' in node) && !/When absent/.test(node.description ?? '')) console.log('NO DEFAULT', path);
  for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`, (node.required ?? []).includes(k));
  if (node.items) walk(node.items, `${path}[]`, true);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`, true);
  for (const alt of node.anyOf ?? []) walk(alt, path + '|', true);
}
walk(s, '', true);
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const v = ajv.compile(s);
for (const f of ['config/clusters.json', 'examples/config/multi-cluster.json']) { console.log(f, v(JSON.parse(readFileSync(f, 'utf8'))), JSON.stringify(v.errors)); }
