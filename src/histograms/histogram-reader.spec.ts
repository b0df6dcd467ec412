import { HistogramBlockPool, newHistogramBlock } from './histogram-block-pool';
import { HistogramBlockWriter, histogramRowParser } from './histogram-reader';

/**
 * A binary COPY of (image id, user id, bins packed big-endian) rows, as PostgreSQL writes it; or,
 * with `withUsers` false, of (image id, bins) rows, as the histogram cache loads them.
 */
function copyStream(rows: { imageId: number; userId: number; bins: number[] }[], withUsers = true): Buffer {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const tuples = rows.map(({ imageId, userId, bins }) => {
    const fields: { bytes: number; write: (tuple: Buffer, at: number) => void }[] = [
      { bytes: 4, write: (tuple, at) => tuple.writeInt32BE(imageId, at) },
    ];
    if (withUsers) fields.push({ bytes: 4, write: (tuple, at) => tuple.writeInt32BE(userId, at) });
    fields.push({ bytes: 1024, write: (tuple, at) => bins.forEach((value, bin) => tuple.writeInt32BE(value, at + bin * 4)) });
    const tuple = Buffer.alloc(2 + fields.reduce((sum, field) => sum + 4 + field.bytes, 0));
    tuple.writeInt16BE(fields.length, 0);
    let at = 2;
    for (const field of fields) {
      tuple.writeInt32BE(field.bytes, at);
      field.write(tuple, at + 4);
      at += 4 + field.bytes;
    }
    return tuple;
  });
  return Buffer.concat([header, ...tuples, Buffer.from([0xff, 0xff])]);
}

function parseInChunks(stream: Buffer, sizes: number[], pool = new HistogramBlockPool()) {
  const writer = new HistogramBlockWriter(() => pool.acquire());
  const parser = histogramRowParser(writer, true);
  for (let offset = 0, i = 0; offset < stream.length; i++) {
    const size = sizes[i % sizes.length];
    parser.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  parser.finish();
  writer.seal();
  return { count: writer.opened.reduce((total, block) => total + block.count, 0), blocks: writer.opened };
}

describe('reading histograms from a binary COPY', () => {
  const rows = Array.from({ length: 2500 }, (_, i) => ({
    imageId: 10 + i,
    userId: i % 13,
    bins: Array.from({ length: 256 }, (__, bin) => (i * 7919 + bin * 104729) % 5_000_000),
  }));
  const stream = copyStream(rows);

  it.each([[[1]], [[7, 1046, 3]], [[1046]], [[65536]], [[stream.length]], [[2, 19, 1045, 1047, 5000]]])(
    'reads every row whatever the chunk sizes (%j)',
    (sizes) => {
      const { count, blocks } = parseInChunks(stream, sizes);
      expect(count).toBe(rows.length);
      expect(blocks.map((block) => block.count)).toEqual([2500]);
      const misread = [];
      let row = 0;
      for (const block of blocks) {
        for (let i = 0; i < block.count; i++, row++) {
          const { imageId, userId, bins } = rows[row];
          const read = block.bins.subarray(i * 256, (i + 1) * 256);
          if (block.imageIds[i] !== imageId || block.userIds[i] !== userId || bins.some((value, bin) => read[bin] !== value))
            misread.push(row);
        }
      }
      expect(misread).toEqual([]);
    },
  );

  it('fills blocks of 16,384 rows in shared memory, and reuses the blocks given back', () => {
    const pool = new HistogramBlockPool();
    const one = copyStream([{ imageId: 1, userId: 1, bins: Array(256).fill(1) }]);
    const row = one.subarray(19, one.length - 2);
    const read = () => {
      const writer = new HistogramBlockWriter(() => pool.acquire());
      const parser = histogramRowParser(writer, true);
      parser.push(one.subarray(0, 19));
      for (let pushed = 0; pushed < 20_000; pushed += 1000) parser.push(Buffer.concat(Array(1000).fill(row)));
      parser.push(Buffer.from([0xff, 0xff]));
      parser.finish();
      writer.seal();
      return writer.opened;
    };
    const first = read();
    expect(first.map((block) => block.count)).toEqual([16384, 3616]);
    expect(first.every((block) => block.bins.buffer instanceof SharedArrayBuffer)).toBe(true);
    pool.release(first);
    expect(pool.idle).toBe(2);
    const second = read();
    expect(second.map((block) => block.count)).toEqual([16384, 3616]);
    expect(new Set([...first, ...second].map((block) => block.bins.buffer)).size).toBe(2);
    expect(pool.idle).toBe(0);
  });

  it('reads an empty selection', () => {
    expect(parseInChunks(copyStream([]), [5])).toEqual({ count: 0, blocks: [] });
  });

  it('appends after the rows a block already holds, putting only the new ones in machine order', () => {
    const block = newHistogramBlock();
    const first = new HistogramBlockWriter(() => block);
    const firstParser = histogramRowParser(first, false);
    firstParser.push(copyStream(rows.slice(0, 3), false));
    first.seal();
    const second = new HistogramBlockWriter(() => newHistogramBlock(), block);
    const secondParser = histogramRowParser(second, false);
    const more = copyStream(rows.slice(3, 10), false);
    for (const [start, end] of [
      [0, 1],
      [1, 1038],
      [1038, 1047],
      [1047, more.length],
    ])
      secondParser.push(more.subarray(start, end));
    secondParser.finish();
    second.seal();
    expect(block.count).toBe(10);
    expect(second.opened).toEqual([]);
    expect(Array.from(block.imageIds.subarray(0, 10))).toEqual(rows.slice(0, 10).map((row) => row.imageId));
    expect(Array.from(block.bins.subarray(0, 10 * 256))).toEqual(rows.slice(0, 10).flatMap((row) => row.bins));
  });

  it('refuses a stream cut short', () => {
    const parser = histogramRowParser(new HistogramBlockWriter(() => newHistogramBlock()), true);
    parser.push(stream.subarray(0, 5000));
    expect(() => parser.finish()).toThrow('ended without its trailer');
  });

  it('refuses rows of another shape', () => {
    const parser = histogramRowParser(new HistogramBlockWriter(() => newHistogramBlock()), true);
    const odd = copyStream(rows.slice(0, 2));
    odd.writeInt32BE(1020, 19 + 18);
    expect(() => parser.push(odd)).toThrow('not (image id, user id, 1 KB of bins)');
  });

  it('refuses a stream with another header', () => {
    const parser = histogramRowParser(new HistogramBlockWriter(() => newHistogramBlock()), false);
    expect(() => parser.push(Buffer.from('image_id,bins\n1,{1,2}\n'))).toThrow('unexpected header');
  });
});
