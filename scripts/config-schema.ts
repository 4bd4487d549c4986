/**
 * `npm run schema`: writes what comes from the configuration schema (core/config-schema.ts):
 *
 * - `config/clusters.schema.json`, the JSON Schema editors use through each config's `"$schema"`;
 * - the field reference of docs/configuration.md, between its GENERATED markers.
 *
 * `npm run schema -- --check` writes nothing and fails when either file is stale (the unit test
 * test/unit/config-schema.test.ts does the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configJsonSchema } from '../core/config-schema';

const ROOT = resolve(__dirname, '..');
/** The checked-in JSON Schema, relative to the project root. */
export const SCHEMA_FILE = 'config/clusters.schema.json';
/** The page whose reference section is generated, relative to the project root. */
export const REFERENCE_PAGE = 'docs/configuration.md';
export const REFERENCE_BEGIN = '<!-- BEGIN GENERATED: field reference (npm run schema) -->';
export const REFERENCE_END = '<!-- END GENERATED: field reference -->';

/** The JSON Schema file's content. */
export function renderSchemaFile(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

interface JsonSchema {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly additionalProperties?: JsonSchema | boolean;
  readonly not?: unknown;
}

/** One row per field: path, type, default (or "required", or what absence means), description. */
export function renderReference(schema: JsonSchema = configJsonSchema() as JsonSchema): string {
  const rows: string[] = [];
  const visit = (node: JsonSchema, prefix: string): void => {
    for (const [name, field] of Object.entries(node.properties ?? {})) {
      if (name === '$comment') continue;
      const path = `${prefix}${name}`;
      const [text, absent] = (field.description ?? '').split(/ When absent: /);
      const fallback = 'default' in field ? `\`${JSON.stringify(field.default)}\`` : (node.required ?? []).includes(name) ? 'required' : (absent ?? '').replace(/\.$/, '');
      // The fields of a cluster are named relative to the cluster, the page's main subject.
      const isClusters = node === schema && name === 'clusters';
      rows.push(`| \`${path}\` | ${typeOf(field)} | ${cell(fallback)} | ${cell(text)}${isClusters ? ' The fields of a cluster follow.' : ''} |`);
      const items = field.items ?? field;
      // A list entry written either as a string or as an object: the object's fields get rows.
      const element = items.anyOf?.find((alternative) => alternative.properties) ?? items;
      if (element.properties) visit(element, isClusters ? '' : `${path}${field.items ? '[]' : ''}.`);
    }
  };
  visit(schema, '');
  return [
    REFERENCE_BEGIN,
    '',
    'Generated from `core/config-schema.ts` by `npm run schema`; a test fails when it is stale. The fields',
    'after `clusters` are relative to one cluster, up to `fleetVerifiers`; `[]` marks the entries of a list.',
    '',
    '| field | type | default | description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    REFERENCE_END,
  ].join('\n');
}

function typeOf(field: JsonSchema): string {
  if (field.not !== undefined) return 'not allowed';
  if (field.enum) return field.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (field.anyOf) return field.anyOf.map(typeOf).join(' \\| ');
  if (field.type === 'array' && field.items?.anyOf) return `(${typeOf(field.items)})[]`;
  if (field.type === 'array') return `${field.items?.type === 'object' ? 'object' : typeOf(field.items ?? {})}[]`;
  if (field.type === 'object' && field.additionalProperties && typeof field.additionalProperties === 'object') {
    return `{key: ${typeOf(field.additionalProperties)}}`;
  }
  return field.type ?? 'any';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The page with its reference section replaced by `reference`. */
export function withReference(page: string, reference: string): string {
  const begin = page.indexOf(REFERENCE_BEGIN);
  const end = page.indexOf(REFERENCE_END);
  if (begin === -1 || end < begin) throw new Error(`${REFERENCE_PAGE} has no ${REFERENCE_BEGIN} ... ${REFERENCE_END} section`);
  return `${page.slice(0, begin)}${reference}${page.slice(end + REFERENCE_END.length)}`;
}

function main(): void {
  const check = process.argv.includes('--check');
  const pagePath = join(ROOT, REFERENCE_PAGE);
  const wanted = new Map([
    [join(ROOT, SCHEMA_FILE), renderSchemaFile()],
    [pagePath, withReference(readFileSync(pagePath, 'utf8'), renderReference())],
  ]);
  const stale = [...wanted].filter(([file, content]) => {
    let current = '';
    try { current = readFileSync(file, 'utf8'); } catch { /* a missing file is stale */ }
    return current !== content;
  });
  if (check) {
    if (stale.length > 0) {
      console.error(`stale: ${stale.map(([file]) => file).join(', ')}. Run npm run schema.`);
      process.exit(1);
    }
    return;
  }
  for (const [file, content] of stale) writeFileSync(file, content);
  console.log(stale.length === 0 ? 'up to date' : `wrote ${stale.map(([file]) => file).join(', ')}`);
}

if (require.main === module) main();
