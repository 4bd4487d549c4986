/**
 * A small JSON Schema (2020-12, as OpenAPI 3.1 uses it) validator for the keywords the Verify
 * API's description uses: type (one or several), const, enum, required, properties,
 * additionalProperties, items, minItems, maxItems, minLength, pattern, oneOf, $ref (local). An
 * unknown keyword is an error, so the document cannot use one this checker would ignore.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  'type', 'const', 'enum', 'required', 'properties', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minLength', 'pattern',
  'oneOf', '$ref', 'description',
]);

/** Resolves `#/a/b` references against the document. */
export function resolveRef(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local references are supported: ${ref}`);
  let node = document;
  for (const part of ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (typeof node !== 'object' || node === null || !(part in node)) throw new Error(`unresolved reference ${ref}`);
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The ways `value` violates `schema` (an empty list when it conforms). */
export function schemaErrors(document: unknown, schema: unknown, value: unknown, path = '$'): string[] {
  if (typeof schema !== 'object' || schema === null) throw new Error(`${path}: not a schema`);
  const s = schema as Schema;
  for (const keyword of Object.keys(s)) if (!KNOWN.has(keyword)) throw new Error(`${path}: unsupported schema keyword ${keyword}`);
  if (typeof s.$ref === 'string') return schemaErrors(document, resolveRef(document, s.$ref), value, path);
  const errors: string[] = [];
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [`${path}: ${actual}, expected ${types.join(' or ')}`];
  }
  if ('const' in s && JSON.stringify(value) !== JSON.stringify(s.const)) errors.push(`${path}: ${JSON.stringify(value)} is not ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) errors.push(`${path}: ${JSON.stringify(value)} does not match ${s.pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) errors.push(`${path}: fewer than ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) errors.push(`${path}: more than ${s.maxItems} items`);
    if (s.items !== undefined) value.forEach((item, i) => errors.push(...schemaErrors(document, s.items, item, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    for (const name of (s.required ?? []) as string[]) if (!(name in object)) errors.push(`${path}: missing required ${name}`);
    for (const [name, member] of Object.entries(object)) {
      if (name in properties) errors.push(...schemaErrors(document, properties[name], member, `${path}.${name}`));
      else if (s.additionalProperties === false) errors.push(`${path}: undocumented member ${name}`);
    }
  }
  if (Array.isArray(s.oneOf)) {
    const matching = s.oneOf.filter((option) => schemaErrors(document, option, value, path).length === 0);
    if (matching.length !== 1) errors.push(`${path}: matches ${matching.length} of the oneOf alternatives, expected exactly 1`);
  }
  return errors;
}
