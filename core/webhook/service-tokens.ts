/**
 * Service-to-service tokens: which audiences a pod asks for, and the file and environment
 * variable each one gets. Names are derived so that any audience (a URL, upper case, a long
 * name) yields a valid path and a valid variable name, and two audiences never share either.
 */
import { MAX_AUDIENCE_LENGTH, MAX_SERVICE_AUDIENCES, SERVICE_TOKEN_ENV_PREFIX, TOKEN_FILE_NAME } from './options';

/** Where one audience's token lives. */
export interface ServiceTokenLayout {
  readonly audience: string;
  /** Directory below the service-token mount path: the audience itself when it is a safe name, else a slug plus a hash. */
  readonly directory: string;
  /** Path inside the projected volume: `<directory>/token`. */
  readonly path: string;
  /** The environment variable naming the file. */
  readonly envName: string;
}

/** The outcome of parsing an audiences annotation. */
export type AudienceParse = { readonly ok: true; readonly audiences: readonly string[] } | { readonly ok: false; readonly reason: string };

/** A directory name usable as is: a DNS-label-like name (lower case, digits, "-", "."), at most 63 characters. */
const SAFE_DIRECTORY = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
/** Printable ASCII without spaces and commas: what an audience may contain (commas separate them). */
const AUDIENCE_CHARACTERS = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * Parses a comma-separated audiences annotation. Blank entries around commas are ignored;
 * anything else wrong refuses the whole list, so a pod never gets some of the tokens it asked for.
 */
export function parseAudiences(value: string): AudienceParse {
  const audiences = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (audiences.length === 0) return { ok: false, reason: 'names no audience' };
  if (audiences.length > MAX_SERVICE_AUDIENCES) return { ok: false, reason: `names ${audiences.length} audiences; at most ${MAX_SERVICE_AUDIENCES} are allowed` };
  const seen = new Set<string>();
  for (const audience of audiences) {
    if (audience.length > MAX_AUDIENCE_LENGTH) return { ok: false, reason: `has an audience longer than ${MAX_AUDIENCE_LENGTH} characters` };
    if (!AUDIENCE_CHARACTERS.test(audience)) return { ok: false, reason: `has audience ${JSON.stringify(audience)}, which contains a space or a character outside printable ASCII` };
    if (seen.has(audience)) return { ok: false, reason: `names audience ${audience} twice` };
    seen.add(audience);
  }
  return { ok: true, audiences };
}

/** Lays out the token files and variables of a parsed audience list (order kept). */
export function layoutServiceTokens(audiences: readonly string[]): ServiceTokenLayout[] {
  const directories = audiences.map((audience) => (SAFE_DIRECTORY.test(audience) ? audience : `${slug(audience)}-${shortHash(audience)}`));
  const envStems = audiences.map((audience) => audience.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, ''));
  const envNames = envStems.map((stem, index) => {
    const collides = stem === '' || envStems.some((other, otherIndex) => otherIndex !== index && other === stem);
    return `${SERVICE_TOKEN_ENV_PREFIX}${collides ? `${stem}${stem ? '_' : ''}${shortHash(audiences[index]).toUpperCase()}` : stem}`;
  });
  return audiences.map((audience, index) => ({
    audience,
    directory: directories[index],
    path: `${directories[index]}/${TOKEN_FILE_NAME}`,
    envName: envNames[index],
  }));
}

/** Checks that no two audiences of a layout share a directory or a variable (only a deliberately crafted list could). */
export function layoutCollision(layout: readonly ServiceTokenLayout[]): string | undefined {
  for (const key of ['directory', 'envName'] as const) {
    const seen = new Map<string, string>();
    for (const entry of layout) {
      const previous = seen.get(entry[key]);
      if (previous !== undefined) return `audiences ${previous} and ${entry.audience} map to the same ${key === 'directory' ? 'directory' : 'variable'} ${entry[key]}`;
      seen.set(entry[key], entry.audience);
    }
  }
  return undefined;
}

function slug(audience: string): string {
  const base = audience.toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '').replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 40).replace(/[-.]+$/, '');
  return base === '' ? 'audience' : base;
}

/** FNV-1a 32-bit as 8 hex digits: disambiguates names; not a security measure. */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
