/** The {@link ObjectStore} port on Amazon S3 (or any endpoint `AWS_ENDPOINT_URL` names, such as moto). */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ListedObject, ObjectStore, PreconditionFailed, PutOptions, StoredObject } from './object-store';

/** One bucket through the AWS SDK v3. */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly client: S3Client, private readonly bucket: string) {
    this.location = `s3://${bucket}`;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = (await out.Body?.transformToString('utf8')) ?? '';
      return { body, etag: out.ETag ?? '', contentType: out.ContentType, cacheControl: out.CacheControl };
    } catch (err) {
      if (isS3Error(err, 'NoSuchKey', 404)) return undefined;
      throw err;
    }
  }

  async put(key: string, body: string, options: PutOptions = {}): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        CacheControl: options.cacheControl,
        IfMatch: options.ifMatch,
        IfNoneMatch: options.ifAbsent ? '*' : undefined,
      }));
    } catch (err) {
      if (isS3Error(err, 'PreconditionFailed', 412) || isS3Error(err, 'ConditionalRequestConflict', 409)) throw new PreconditionFailed(key);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listEntries(prefix)).map((entry) => entry.key);
  }

  async listEntries(prefix: string): Promise<ListedObject[]> {
    const entries: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const item of page.Contents ?? []) if (item.Key) entries.push({ key: item.Key, size: item.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

function isS3Error(err: unknown, name: string, status: number): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === name || err.$metadata?.httpStatusCode === status;
}
