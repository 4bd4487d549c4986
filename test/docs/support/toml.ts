/**
 * The subset of TOML that OAuth2-Proxy configuration files use: `key = value` lines with strings,
 * booleans, integers and arrays of strings, and comments. Anything else is an error, so an example
 * cannot contain something this reader would silently misread.
 */
export type TomlValue = string | boolean | number | string[];

/** Parses the file; throws naming the line when a line is not in the subset. */
export function parseSimpleToml(text: string): Record<string, TomlValue> {
  const values: Record<string, TomlValue> = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([a-z_][a-z0-9_]*)\s*=\s*(.+)$/.exec(line);
    if (!match) throw new Error(`line ${index + 1}: not "key = value": ${raw}`);
    const [, key, rest] = match;
    if (key in values) throw new Error(`line ${index + 1}: ${key} is set twice`);
    values[key] = parseValue(rest.trim(), index + 1);
  });
  return values;
}

function parseValue(text: string, line: number): TomlValue {
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text.startsWith('"')) return parseString(text, line);
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1).trim();
    if (inner === '') return [];
    return inner.split(/\s*,\s*/).map((item) => parseString(item, line));
  }
  throw new Error(`line ${line}: unsupported value ${text}`);
}

function parseString(text: string, line: number): string {
  const match = /^"((?:[^"\\]|\\.)*)"$/.exec(text);
  if (!match) throw new Error(`line ${line}: not a basic string: ${text}`);
  return JSON.parse(`"${match[1]}"`) as string;
}
