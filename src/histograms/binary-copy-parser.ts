import type { Readable } from 'node:stream';

// PGCOPY signature (11 bytes), flags (4), header extension length (4).
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const COPY_HEADER_BYTES = 19;

/**
 * Parses PostgreSQL's binary COPY output of rows whose fields all have fixed lengths (int4s and
 * fixed-size byteas, none NULL). Whole rows are read in place from each chunk, and only a row
 * split between two chunks is put together in a carry buffer. `onRow` gets each row's buffer and
 * the offset of its first field's value; each later field's value follows the one before and its
 * own 4-byte length (the second of two int4s is 8 bytes on).
 */
export class BinaryCopyParser {
  private readonly tupleBytes: number;
  private readonly carry: Buffer;
  private carried = 0;
  private inHeader = true;
  private ended = false;

  constructor(
    private readonly fieldBytes: readonly number[],
    private readonly onRow: (data: Buffer, at: number) => void,
    private readonly rowShape: string,
  ) {
    this.tupleBytes = 2 + fieldBytes.reduce((sum, bytes) => sum + 4 + bytes, 0);
    this.carry = Buffer.alloc(Math.max(this.tupleBytes, COPY_HEADER_BYTES));
  }

  push(chunk: Buffer): void {
    if (this.ended) return;
    const tupleBytes = this.tupleBytes;
    let offset = 0;
    while ((this.carried > 0 || this.inHeader) && offset < chunk.length) {
      const take = Math.min((this.inHeader ? COPY_HEADER_BYTES : tupleBytes) - this.carried, chunk.length - offset);
      chunk.copy(this.carry, this.carried, offset, offset + take);
      this.carried += take;
      offset += take;
      if (!this.inHeader && this.carried >= 2 && this.carry.readInt16BE(0) === -1) {
        this.ended = true;
        return;
      }
      if (this.inHeader && this.carried === COPY_HEADER_BYTES) {
        this.readHeader(this.carry);
        this.carried = 0;
      } else if (!this.inHeader && this.carried === tupleBytes) {
        this.readRow(this.carry, 0);
        this.carried = 0;
      }
    }
    while (chunk.length - offset >= 2) {
      if (chunk.readInt16BE(offset) === -1) {
        this.ended = true;
        return;
      }
      if (chunk.length - offset < tupleBytes) break;
      this.readRow(chunk, offset);
      offset += tupleBytes;
    }
    chunk.copy(this.carry, this.carried, offset);
    this.carried += chunk.length - offset;
  }

  /** Throws unless the stream ended with COPY's trailer, which PostgreSQL writes only after the last row. */
  finish(): void {
    if (!this.ended) throw new Error('The COPY stream ended without its trailer');
  }

  private readHeader(header: Buffer): void {
    if (!header.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE) || header.readUInt32BE(15) !== 0) {
      throw new Error('The COPY stream has an unexpected header');
    }
    this.inHeader = false;
  }

  private readRow(data: Buffer, at: number): void {
    let field = at + 2;
    let wellFormed = data.readInt16BE(at) === this.fieldBytes.length;
    for (let k = 0; wellFormed && k < this.fieldBytes.length; k++) {
      wellFormed = data.readInt32BE(field) === this.fieldBytes[k];
      field += 4 + this.fieldBytes[k];
    }
    if (!wellFormed) throw new Error(`The COPY stream has a row that is not ${this.rowShape}`);
    this.onRow(data, at + 6);
  }
}

/**
 * Feeds every chunk of a COPY stream to `take` as it arrives ('data' events cost less than async
 * iteration over ~100,000 chunks). A chunk `take` refuses fails the read once the stream has
 * ended, so that the connection is left between statements, ready for the next.
 */
export function consumeCopy(stream: Readable, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let refused: unknown = null;
    stream.on('data', (chunk: Buffer) => {
      if (refused) return;
      try {
        take(chunk);
      } catch (error) {
        refused = error;
      }
    });
    stream.once('error', reject);
    stream.once('end', () => (refused ? reject(refused) : resolve()));
  });
}
