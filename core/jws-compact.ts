/**
 * The encoding layer of a compact JWS, read the way kube-apiserver (go-jose) and jose would both
 * accept it: base64url without padding, UTF-8 JSON objects without duplicate member names.
 *
 * Where the two readers differ, the stricter reading wins, so a token accepted here is accepted
 * by both:
 * - go-jose decodes with `RawURLEncoding` (tolerates non-zero unused bits, skips CR/LF) and
 *   checks the signature over the *re-encoded* decoded bytes; jose checks it over the segment
 *   text as received. A header or payload segment is therefore accepted only in its canonical
 *   encoding (unused bits zero), where both readings agree. The signature segment is judged by
 *   its decoded bytes, as both readers do.
 * - go-jose's JSON refuses duplicate member names and invalid syntax after a byte order mark;
 *   jose refuses invalid UTF-8. Both refusals apply here.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 * @see go-jose/go-jose jws.go (parseSignedCompact, computeAuthData) and json/decode.go
 */
import { isUtf8 } from 'node:buffer';

const BASE64URL_ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Whether a segment is unpadded base64url that decodes to whole bytes (a length of 4n+1 cannot).
 * Unused trailing bits are not checked: see {@link isCanonicalBase64Url}.
 */
export function isBase64Url(segment: string): boolean {
  return segment.length % 4 !== 1 && BASE64URL_ALPHABET.test(segment);
}

/** Whether a segment is the one canonical unpadded base64url encoding of its bytes. */
export function isCanonicalBase64Url(segment: string): boolean {
  if (!isBase64Url(segment)) return false;
  const rest = segment.length % 4;
  if (rest === 0) return true;
  const last = base64UrlValue(segment.charCodeAt(segment.length - 1));
  // 2 characters carry 12 bits for 1 byte (4 unused); 3 carry 18 bits for 2 bytes (2 unused).
  return rest === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

function base64UrlValue(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 71;
  if (code >= 48 && code <= 57) return code + 4;
  return code === 45 ? 62 : 63;
}

/**
 * Decodes a base64url segment of a token already known to be ASCII, or returns `undefined` when
 * it is not unpadded base64url (or, with `canonical`, not the canonical encoding).
 *
 * This is the hot path's check, cheaper than a pattern match: Node's decoder accepts `+` and `/`
 * (refused here by search) and skips or stops at any other character outside the alphabet, which
 * always yields fewer bytes than the segment length implies. The caller must have refused
 * non-ASCII input: Node reads only the low byte of wider characters.
 */
export function decodeAsciiBase64Url(segment: string, canonical: boolean): Buffer | undefined {
  const length = segment.length;
  const rest = length % 4;
  if (rest === 1 || segment.indexOf('+') >= 0 || segment.indexOf('/') >= 0) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.length !== (length * 3) >> 2) return undefined;
  if (canonical && rest !== 0) {
    const last = base64UrlValue(segment.charCodeAt(length - 1));
    if ((rest === 2 ? last & 0x0f : last & 0x03) !== 0) return undefined;
  }
  return bytes;
}

/** Why a segment is not a JSON object, in words fit for a reason message. */
export type JsonSegmentProblem = 'not UTF-8' | 'not JSON' | 'not a JSON object' | `duplicate member ${string}`;

/** A decoded JSON object, or the problem that prevented it. */
export type JsonSegment = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly problem: JsonSegmentProblem };

/**
 * Decodes a canonical base64url segment (checked by the caller) as a UTF-8 JSON object with no
 * duplicate member names at any depth. Never throws.
 */
export function decodeJsonObjectSegment(segment: string): JsonSegment {
  return parseJsonObject(Buffer.from(segment, 'base64url'));
}

/** Parses bytes as a UTF-8 JSON object with no duplicate member names at any depth. Never throws. */
export function parseJsonObject(bytes: Buffer): JsonSegment {
  // Buffer decoding keeps a leading byte order mark, which JSON.parse then refuses, as go-jose does.
  const text = bytes.toString('utf8');
  // The decoder turns every invalid sequence into U+FFFD, so text without one came from valid
  // UTF-8; only text with one (rare: a real U+FFFD, or bad bytes) needs the full validation.
  if (text.indexOf('\ufffd') >= 0 && !isUtf8(bytes)) return { ok: false, problem: 'not UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'not a JSON object' };
  // The quick check may only err towards "maybe"; the exact scan decides and names the member.
  if (mayHaveDuplicateMember(text, value)) {
    const duplicate = findDuplicateJsonKey(text);
    if (duplicate !== undefined) return { ok: false, problem: `duplicate member ${JSON.stringify(duplicate).slice(0, 80)}` };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * A quick test that a JSON text has no repeated member name in any object, given its parsed
 * value: `false` proves there is none; `true` means "maybe" (ask {@link findDuplicateJsonKey}).
 *
 * It counts instead of scanning, and holds for any text without escapes (every JWT signer's):
 * there every `"` delimits a string, and the only whitespace a string can hold raw is a space.
 * So a `:` whose nearest non-whitespace character before it is a `"` is either a member separator
 * or, inside a string, the first character after the string's leading spaces; and the text has
 * exactly as many of them as the parsed value has members plus strings that open (after spaces)
 * with `:`. JSON.parse keeps one member of a repeated name and drops the other with its value,
 * so a repeat leaves the parsed count short. Text with escapes gets `true`.
 */
export function mayHaveDuplicateMember(text: string, parsed: unknown): boolean {
  if (text.indexOf('\\') >= 0) return true;
  return colonsAfterQuote(text) !== membersAndColonOpenedStrings(parsed);
}

function colonsAfterQuote(text: string): number {
  let count = 0;
  for (let at = text.indexOf(':'); at >= 0; at = text.indexOf(':', at + 1)) {
    let before = at - 1;
    let code = text.charCodeAt(before);
    while (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) code = text.charCodeAt(--before);
    if (code === 0x22) count++;
  }
  return count;
}

function membersAndColonOpenedStrings(value: unknown): number {
  if (typeof value === 'string') return opensWithColon(value) ? 1 : 0;
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) count += membersAndColonOpenedStrings(value[i]);
    return count;
  }
  const object = value as Record<string, unknown>;
  for (const name in object) count += (opensWithColon(name) ? 2 : 1) + membersAndColonOpenedStrings(object[name]);
  return count;
}

/** Whether a string's first character other than a space is `:`. */
function opensWithColon(value: string): boolean {
  let at = 0;
  let code = value.charCodeAt(0);
  while (code === 0x20) code = value.charCodeAt(++at);
  return code === 0x3a;
}

/**
 * The first member name that appears twice in one object of a JSON text, compared after
 * unescaping (`"a"` and `"\u0061"` are the same name), or `undefined`. JSON.parse keeps the last
 * of duplicates silently while go-jose refuses them, so a signer and a verifier could otherwise
 * read different claims from the same bytes.
 *
 * The text must already be valid JSON (the scan tracks only strings and nesting).
 */
export function findDuplicateJsonKey(json: string): string | undefined {
  const enclosing: (Set<string> | undefined)[] = [];
  let names: Set<string> | undefined; // member names of the innermost object; undefined in an array
  let expectName = false;
  const length = json.length;
  for (let i = 0; i < length; i++) {
    const code = json.charCodeAt(i);
    if (code === 0x22) {
      const start = i;
      let escaped = false;
      for (i++; i < length; i++) {
        const inner = json.charCodeAt(i);
        if (inner === 0x5c) {
          escaped = true;
          i++;
        } else if (inner === 0x22) {
          break;
        }
      }
      if (expectName && names !== undefined) {
        const name = escaped ? (JSON.parse(json.slice(start, i + 1)) as string) : json.slice(start + 1, i);
        if (names.has(name)) return name;
        names.add(name);
        expectName = false;
      }
    } else if (code === 0x7b) {
      enclosing.push(names);
      names = new Set();
      expectName = true;
    } else if (code === 0x5b) {
      enclosing.push(names);
      names = undefined;
      expectName = false;
    } else if (code === 0x7d || code === 0x5d) {
      names = enclosing.pop();
      expectName = false;
    } else if (code === 0x2c) {
      expectName = names !== undefined;
    }
  }
  return undefined;
}
