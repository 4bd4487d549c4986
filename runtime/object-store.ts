/**
 * The storage port the sync, the CLI and local mode share: a bucket-like key/value store with
 * the conditional writes that serialise concurrent syncs.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** An object as read back, with its entity tag and the headers it is served with. */
export interface StoredObject {
  readonly body: string;
  readonly etag: string;
  readonly contentType?: string;
  readonly cacheControl?: string;
}

/** Options of one write. */
export interface PutOptions {
  readonly contentType?: string;
  readonly cacheControl?: string;
  /** Write only if the object still has this entity tag. */
  readonly ifMatch?: string;
  /** Write only if the object does not exist yet. */
  readonly ifAbsent?: boolean;
}

/** A bucket: S3 in AWS, a folder in local mode. */
export interface ObjectStore {
  /** A label for messages, such as `s3://bucket` or a folder path. */
  readonly location: string;
  get(key: string): Promise<StoredObject | undefined>;
  /** Writes an object; rejects with {@link PreconditionFailed} when a condition does not hold. */
  put(key: string, body: string, options?: PutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Keys under a prefix with their sizes in bytes as the listing gives them, sorted by key. */
  listEntries(prefix: string): Promise<ListedObject[]>;
}

/** One object of a listing: its key and its size, known before anything is downloaded. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
}

/** A conditional write lost a race: someone else changed the object first. */
export class PreconditionFailed extends Error {
  constructor(key: string) {
    super(`${key} changed while it was being updated`);
    this.name = 'PreconditionFailed';
  }
}

/** Entity tag of a body, as the filesystem store computes it. */
export function bodyEtag(body: string): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}

/**
 * A folder used as a bucket: each object is a file, its headers a `.meta.json` file beside it.
 * Local mode and the CLI's offline paths use it; conditions are checked but, unlike S3's, not
 * atomically across processes (one local process owns a folder).
 */
export class FileObjectStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = root;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const path = this.pathOf(key);
    let body: string;
    try {
      body = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const meta = await readFile(`${path}.meta.json`, 'utf8').then((text) => JSON.parse(text) as PutOptions, () => ({}) as PutOptions);
    return { body, etag: bodyEtag(body), contentType: meta.contentType, cacheControl: meta.cacheControl };
  }

  async put(key: string, body: string, options: PutOptions = {}): Promise<void> {
    if (options.ifMatch !== undefined || options.ifAbsent) {
      const existing = await this.get(key);
      if (options.ifAbsent && existing) throw new PreconditionFailed(key);
      if (options.ifMatch !== undefined && existing?.etag !== options.ifMatch) throw new PreconditionFailed(key);
    }
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so that a reader never sees half a document.
    await writeFile(`${path}.tmp`, body);
    await writeFile(`${path}.meta.json`, JSON.stringify({ contentType: options.contentType, cacheControl: options.cacheControl }));
    await rename(`${path}.tmp`, path);
  }

  async delete(key: string): Promise<void> {
    const { rm } = await import('node:fs/promises');
    await rm(this.pathOf(key), { force: true });
    await rm(`${this.pathOf(key)}.meta.json`, { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.endsWith('.meta.json') && !entry.name.endsWith('.tmp')) keys.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  async listEntries(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    for (const key of await this.list(prefix)) {
      const info = await stat(this.pathOf(key)).catch(() => undefined);
      if (info) out.push({ key, size: info.size });
    }
    return out;
  }

  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '')) throw new Error(`invalid object key ${JSON.stringify(key)}`);
    return join(this.root, ...key.split('/'));
  }
}
