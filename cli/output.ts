/**
 * Shared printing for the CLI: human text that lines up, JSON for scripts, and the one-line error
 * format. Plain ASCII and no colours, so output pastes cleanly into tickets and logs.
 */
import type { Finding } from '../core/issuer-checks';
import { humanSeconds } from '../core/issuer-checks';

/** Pretty JSON as commands print it with `--json` (2-space indent, trailing newline). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** `label: value` lines with the values aligned; rows with an undefined value are left out. */
export function formatFields(rows: readonly (readonly [string, string | undefined])[]): string {
  const shown = rows.filter((row): row is readonly [string, string] => row[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length)) + 1;
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
}

/** Indents every line of a block. */
export function indent(text: string, spaces = 2): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

/**
 * The doctor's findings, one block per finding: `PASS`/`FAIL`, the id, what was checked and what
 * was seen, and for failures the fix; then a count.
 */
export function formatFindings(findings: readonly Finding[]): string {
  const idWidth = Math.max(0, ...findings.map((f) => f.id.length));
  const lines: string[] = [];
  for (const finding of findings) {
    lines.push(`${finding.ok ? 'PASS' : 'FAIL'}  ${finding.id.padEnd(idWidth)}  ${finding.title}`);
    const pad = ' '.repeat(idWidth + 8);
    lines.push(`${pad}seen: ${finding.seen}`);
    if (!finding.ok && finding.fix) lines.push(`${pad}fix:  ${finding.fix}`);
  }
  lines.push('', summarizeFindings(findings));
  return lines.join('\n');
}

/** `12 passed, 2 failed: issuer-match, jwks-fetch` (or `all 14 checks passed`). */
export function summarizeFindings(findings: readonly Finding[]): string {
  const failed = findings.filter((f) => !f.ok);
  if (failed.length === 0) return `all ${findings.length} checks passed`;
  return `${findings.length - failed.length} passed, ${failed.length} failed: ${failed.map((f) => f.id).join(', ')}`;
}

/** An instant in the machine's local time zone: `2027-01-01 01:00:00 +01:00`. */
export function formatLocalTime(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`
  );
}

/** `in 59m 12s` or `3h 2m ago` for an instant relative to now (both epoch seconds). */
export function formatRelative(epochSeconds: number, nowSeconds: number): string {
  const delta = epochSeconds - nowSeconds;
  if (Math.abs(delta) < 1) return 'now';
  return delta > 0 ? `in ${humanSeconds(delta)}` : `${humanSeconds(-delta)} ago`;
}

/** Formats seconds as `1h`, `7d`, `1m 30s`. */
export const formatDuration = humanSeconds;

/**
 * The one line printed for an error: its message's first line, never a stack. Anything that
 * looks like a compact JWT is masked, because error messages can quote input.
 */
export function errorLine(prefix: string, message: string): string {
  const firstLine = message.split('\n').find((line) => line.trim() !== '') ?? 'unknown error';
  return `${prefix}: ${maskTokens(firstLine.trim())}\n`;
}

/** Replaces compact JWTs in text by their first characters and an ellipsis. */
export function maskTokens(text: string): string {
  return text.replace(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, (token) => `${token.slice(0, 10)}...`);
}
