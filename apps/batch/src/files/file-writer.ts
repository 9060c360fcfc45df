import type { FilesRepository } from './files.repository';

/** Content is stored in chunks of this size (the last one smaller). */
export const CHUNK_BYTES = 1024 * 1024;

/** Thrown when a file goes over a limit while it is written. */
export class FileLimitError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Writes a file's content into chunk rows as it arrives, holding at most one chunk in memory, and
 * counts bytes and lines on the way; over a limit it throws `FileLimitError`.
 */
export class FileWriter {
  private parts: Buffer[] = [];
  private held = 0;
  private seq = 0;
  bytes = 0;
  private newlines = 0;
  private lastByte = -1;

  constructor(
    private readonly files: FilesRepository,
    readonly fileId: string,
    private readonly limits: { maxBytes: number; maxLines: number },
  ) {}

  get lines(): number {
    return this.newlines + (this.bytes > 0 && this.lastByte !== 0x0a ? 1 : 0);
  }

  async write(data: Buffer | string): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (buf.length === 0) return;
    this.bytes += buf.length;
    if (this.bytes > this.limits.maxBytes) throw new FileLimitError(`The file is larger than ${this.limits.maxBytes} bytes.`, 'file_too_large');
    for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) this.newlines++;
    this.lastByte = buf[buf.length - 1];
    if (this.lines > this.limits.maxLines) throw new FileLimitError(`The file has more than ${this.limits.maxLines} lines.`, 'too_many_lines');
    this.parts.push(buf);
    this.held += buf.length;
    while (this.held >= CHUNK_BYTES) await this.flushChunk(CHUNK_BYTES);
  }

  private async flushChunk(size: number): Promise<void> {
    const all = Buffer.concat(this.parts);
    const chunk = all.subarray(0, size);
    const rest = all.subarray(size);
    this.parts = rest.length ? [Buffer.from(rest)] : [];
    this.held = rest.length;
    await this.files.appendChunk(this.fileId, this.seq++, chunk);
  }

  /** Writes what is held and makes the file visible. */
  async finish(): Promise<void> {
    if (this.held > 0) await this.flushChunk(this.held);
    await this.files.complete(this.fileId, this.bytes, this.lines);
  }
}
