/** Rows per tile: a tile's column of one bin is 2 KB (16-bit) or 4 KB (32-bit), read in one run. */
export const TILE_ROWS = 1024;
export const BINS = 256;
/** The largest count a 16-bit tile holds; a tile that must hold a larger one is 32-bit. */
export const NARROW_MAX = 0xffff;

/**
 * TILE_ROWS histograms, column-major (`bins[bin * TILE_ROWS + row]`) so that a bin's values lie
 * side by side for the median's per-bin counting and the search's per-bin distance sums, at the
 * width their counts need: 16 bits while every count fits, 32 once one does not. Everything is in
 * shared memory, so reducer threads read it where it lies.
 */
export interface HistogramTile {
  count: number;
  narrow: Uint16Array | null;
  wide: Int32Array | null;
  histogramIds: Int32Array;
  imageIds: Int32Array;
  userIds: Int32Array;
  imageTypeIds: Int32Array;
  /** The image's created_at in microseconds since 1970, as PostgreSQL keeps it (exact in a double). */
  createdMicros: Float64Array;
  /** The sum of the row's bins (its pixel count), which the search normalises by. */
  sums: Float64Array;
  /** 0 once the histogram was deleted or replaced: its slot stays until the store is rebuilt. */
  live: Uint8Array;
}

/** What reducer threads get of a tile. */
export interface TileView {
  count: number;
  narrow: Uint16Array | null;
  wide: Int32Array | null;
  imageIds: Int32Array;
  userIds: Int32Array;
  sums: Float64Array;
}

/** The rows a job reduces: `mask[tile * TILE_ROWS + row]` is 1 for each, `tileCounts[tile]` how many in each tile. */
export interface SelectedHistograms {
  count: number;
  tiles: TileView[];
  mask: Uint8Array;
  tileCounts: Int32Array;
}

/** A selection's filters, resolved to the store's columns (imageTypeId -1: a type that does not exist). */
export interface StoreFilter {
  userId: number | null;
  imageTypeId: number | null;
  sinceMicros: number | null;
  /** The newest n (by created_at, then image id), or every row. */
  limit: number | null;
}

export interface HistogramRowMeta {
  histogramId: number;
  imageId: number;
  userId: number;
  imageTypeId: number;
  createdMicros: number;
}

const shared = <T>(make: (buffer: SharedArrayBuffer) => T, bytes: number): T => make(new SharedArrayBuffer(bytes));

export function newTile(wide: boolean): HistogramTile {
  return {
    count: 0,
    narrow: wide ? null : shared((b) => new Uint16Array(b), BINS * TILE_ROWS * 2),
    wide: wide ? shared((b) => new Int32Array(b), BINS * TILE_ROWS * 4) : null,
    histogramIds: shared((b) => new Int32Array(b), TILE_ROWS * 4),
    imageIds: shared((b) => new Int32Array(b), TILE_ROWS * 4),
    userIds: shared((b) => new Int32Array(b), TILE_ROWS * 4),
    imageTypeIds: shared((b) => new Int32Array(b), TILE_ROWS * 4),
    createdMicros: shared((b) => new Float64Array(b), TILE_ROWS * 8),
    sums: shared((b) => new Float64Array(b), TILE_ROWS * 8),
    live: shared((b) => new Uint8Array(b), TILE_ROWS),
  };
}

/** A tile's memory, in bytes. */
export function tileBytes(tile: Pick<HistogramTile, 'wide'>): number {
  return BINS * TILE_ROWS * (tile.wide ? 4 : 2) + TILE_ROWS * (4 * 4 + 8 + 8 + 1);
}

export class NegativeBinError extends Error {
  override name = 'NegativeBinError';
}

/**
 * Histograms in tiles, appended in the order they come; a deleted or replaced one leaves a dead
 * slot. Finds a histogram's slot by its id, and a selection's rows by their columns, with no
 * database read.
 */
export class HistogramStore {
  readonly tiles: HistogramTile[] = [];
  /** Each histogram's slot plus one, by histogram id (0: none). Ids come from a sequence: 4 bytes an id. */
  private slotPlusOne = new Int32Array(0);
  private liveRows = 0;
  /** The bins of the row putPacked is storing, decoded once for the checks, the comparison and the copy. */
  private readonly scratch = new Int32Array(BINS);

  /** Slots used, dead ones included. */
  get slots(): number {
    return this.tiles.length === 0 ? 0 : (this.tiles.length - 1) * TILE_ROWS + this.tiles[this.tiles.length - 1].count;
  }

  get live(): number {
    return this.liveRows;
  }

  get bytes(): number {
    return this.tiles.reduce((total, tile) => total + tileBytes(tile), 0) + this.slotPlusOne.byteLength;
  }

  /** The live rows alone, in a store of their own that shares the tiles already whole and live. */
  compacted(): HistogramStore {
    const store = new HistogramStore();
    for (const tile of liveTiles(this)) store.adoptTile(tile);
    return store;
  }

  /** Adds a tile read whole (from a snapshot); its live rows are indexed. */
  adoptTile(tile: HistogramTile): void {
    if (this.tiles.length > 0 && this.tiles[this.tiles.length - 1].count < TILE_ROWS) {
      throw new Error('A whole tile can only follow full ones');
    }
    const t = this.tiles.length;
    this.tiles.push(tile);
    for (let row = 0; row < tile.count; row++) if (tile.live[row]) this.index(tile.histogramIds[row], t * TILE_ROWS + row);
  }

  /**
   * Puts a histogram given as 256 big-endian int32s at `data[binsAt]`, as PostgreSQL's int4send
   * packs them. One the store holds with the same bins has its columns updated in place (a row read
   * again, or its image moved to another owner or type); one with other bins is replaced.
   */
  putPacked(meta: HistogramRowMeta, data: Buffer, binsAt: number): void {
    const values = this.scratch;
    let max = 0;
    let sum = 0;
    for (let bin = 0; bin < BINS; bin++) {
      const value = data.readInt32BE(binsAt + bin * 4);
      if (value < 0) throw new NegativeBinError(`Histogram ${meta.histogramId} has a negative count (${value}) in bin ${bin}`);
      if (value > max) max = value;
      sum += value;
      values[bin] = value;
    }
    const existing = this.slotOf(meta.histogramId);
    if (existing >= 0) {
      const tile = this.tiles[Math.floor(existing / TILE_ROWS)];
      const row = existing % TILE_ROWS;
      if (sameBins(tile, row, values)) {
        this.setMeta(tile, row, meta);
        return;
      }
      this.remove(meta.histogramId);
    }
    const { tile, row } = this.nextSlot(max > NARROW_MAX);
    const bins = tile.narrow ?? tile.wide!;
    for (let bin = 0; bin < BINS; bin++) bins[bin * TILE_ROWS + row] = values[bin];
    tile.sums[row] = sum;
    this.setMeta(tile, row, meta);
    tile.live[row] = 1;
    tile.count = row + 1;
    this.index(meta.histogramId, (this.tiles.length - 1) * TILE_ROWS + row);
  }

  /** Forgets a histogram (a no-op for one the store lacks). */
  remove(histogramId: number): void {
    const slot = this.slotOf(histogramId);
    if (slot < 0) return;
    this.tiles[Math.floor(slot / TILE_ROWS)].live[slot % TILE_ROWS] = 0;
    this.slotPlusOne[histogramId] = 0;
    this.liveRows--;
  }

  /** The live rows `filter` picks, as a mask over the slots. */
  select(filter: StoreFilter): SelectedHistograms {
    const mask = new Uint8Array(new SharedArrayBuffer(Math.max(1, this.tiles.length * TILE_ROWS)));
    const tileCounts = new Int32Array(new SharedArrayBuffer(Math.max(1, this.tiles.length) * 4));
    if (filter.imageTypeId === -1) return { count: 0, tiles: [], mask, tileCounts };
    let count = 0;
    this.tiles.forEach((tile, t) => {
      const first = t * TILE_ROWS;
      for (let row = 0; row < tile.count; row++) {
        if (
          tile.live[row] &&
          (filter.userId === null || tile.userIds[row] === filter.userId) &&
          (filter.imageTypeId === null || tile.imageTypeIds[row] === filter.imageTypeId) &&
          (filter.sinceMicros === null || tile.createdMicros[row] >= filter.sinceMicros)
        ) {
          mask[first + row] = 1;
          count++;
        }
      }
    });
    if (filter.limit !== null && count > filter.limit) count = this.keepNewest(mask, count, filter.limit);
    this.tiles.forEach((tile, t) => {
      let taken = 0;
      for (let row = 0, at = t * TILE_ROWS; row < tile.count; row++, at++) taken += mask[at];
      tileCounts[t] = taken;
    });
    return { count, tiles: this.tiles.map(viewOf), mask, tileCounts };
  }

  /** Clears the mask of all but the newest `limit` of its `count` rows, as ORDER BY created_at DESC, id DESC would. */
  private keepNewest(mask: Uint8Array, count: number, limit: number): number {
    const created = new Float64Array(count);
    let i = 0;
    this.forMasked(mask, (tile, row) => (created[i++] = tile.createdMicros[row]));
    created.sort();
    // The oldest time kept; of the rows at exactly that time, those with the highest image ids are.
    const cutoff = created[count - limit];
    let newer = 0;
    for (let j = count - 1; j >= 0 && created[j] > cutoff; j--) newer++;
    const tiedIds: number[] = [];
    this.forMasked(mask, (tile, row) => {
      if (tile.createdMicros[row] === cutoff) tiedIds.push(tile.imageIds[row]);
    });
    tiedIds.sort((a, b) => b - a);
    const lowestTiedKept = tiedIds[limit - newer - 1];
    let kept = 0;
    this.forMasked(mask, (tile, row, at) => {
      const time = tile.createdMicros[row];
      if (time > cutoff || (time === cutoff && tile.imageIds[row] >= lowestTiedKept)) kept++;
      else mask[at] = 0;
    });
    return kept;
  }

  private forMasked(mask: Uint8Array, visit: (tile: HistogramTile, row: number, at: number) => void): void {
    this.tiles.forEach((tile, t) => {
      for (let row = 0, at = t * TILE_ROWS; row < tile.count; row++, at++) if (mask[at]) visit(tile, row, at);
    });
  }

  private nextSlot(wide: boolean): { tile: HistogramTile; row: number } {
    let tile = this.tiles[this.tiles.length - 1];
    if (!tile || tile.count === TILE_ROWS) {
      tile = newTile(wide);
      this.tiles.push(tile);
    } else if (wide && tile.narrow) {
      tile = widen(tile);
      this.tiles[this.tiles.length - 1] = tile;
    }
    return { tile, row: tile.count };
  }

  private setMeta(tile: HistogramTile, row: number, meta: HistogramRowMeta): void {
    tile.histogramIds[row] = meta.histogramId;
    tile.imageIds[row] = meta.imageId;
    tile.userIds[row] = meta.userId;
    tile.imageTypeIds[row] = meta.imageTypeId;
    tile.createdMicros[row] = meta.createdMicros;
  }

  private slotOf(histogramId: number): number {
    return histogramId >= 0 && histogramId < this.slotPlusOne.length ? this.slotPlusOne[histogramId] - 1 : -1;
  }

  private index(histogramId: number, slot: number): void {
    if (histogramId < 0) throw new Error(`Histogram id ${histogramId} is out of range`);
    if (histogramId >= this.slotPlusOne.length) {
      const larger = new Int32Array(Math.max(histogramId + 1, Math.ceil(this.slotPlusOne.length * 1.5)));
      larger.set(this.slotPlusOne);
      this.slotPlusOne = larger;
    }
    if (this.slotPlusOne[histogramId] === 0) this.liveRows++;
    this.slotPlusOne[histogramId] = slot + 1;
  }
}

/** The store's live rows in whole tiles (but the last), reusing those that are whole and live already. */
export function* liveTiles(store: HistogramStore): Generator<HistogramTile> {
  let building: HistogramTile | null = null;
  for (const tile of store.tiles) {
    let live = 0;
    for (let row = 0; row < tile.count; row++) live += tile.live[row];
    if (live === 0) continue;
    if (building === null && live === TILE_ROWS) {
      yield tile;
      continue;
    }
    for (let row = 0; row < tile.count; row++) {
      if (!tile.live[row]) continue;
      building ??= newTile(false);
      building = copyRow(tile, row, building);
      if (building.count === TILE_ROWS) {
        yield building;
        building = null;
      }
    }
  }
  if (building !== null) yield building;
}

/** Appends row `row` of `from` to `to`, which is widened (a new tile, returned) if the row needs it. */
function copyRow(from: HistogramTile, row: number, to: HistogramTile): HistogramTile {
  const source = from.narrow ?? from.wide!;
  let target = to;
  if (target.narrow && from.wide) {
    let max = 0;
    for (let bin = 0; bin < BINS; bin++) max = Math.max(max, source[bin * TILE_ROWS + row]);
    if (max > NARROW_MAX) {
      const wide = newTile(true);
      wide.wide!.set(target.narrow);
      for (const key of ['histogramIds', 'imageIds', 'userIds', 'imageTypeIds', 'createdMicros', 'sums', 'live'] as const) {
        (wide[key] as Int32Array).set(target[key] as Int32Array);
      }
      wide.count = target.count;
      target = wide;
    }
  }
  const bins = target.narrow ?? target.wide!;
  const at = target.count;
  for (let bin = 0; bin < BINS; bin++) bins[bin * TILE_ROWS + at] = source[bin * TILE_ROWS + row];
  target.histogramIds[at] = from.histogramIds[row];
  target.imageIds[at] = from.imageIds[row];
  target.userIds[at] = from.userIds[row];
  target.imageTypeIds[at] = from.imageTypeIds[row];
  target.createdMicros[at] = from.createdMicros[row];
  target.sums[at] = from.sums[row];
  target.live[at] = 1;
  target.count = at + 1;
  return target;
}

function sameBins(tile: HistogramTile, row: number, values: Int32Array): boolean {
  const bins = tile.narrow ?? tile.wide!;
  for (let bin = 0; bin < BINS; bin++) if (bins[bin * TILE_ROWS + row] !== values[bin]) return false;
  return true;
}

/** A 32-bit copy of a 16-bit tile, for a count it cannot hold. */
function widen(tile: HistogramTile): HistogramTile {
  const wide = shared((b) => new Int32Array(b), BINS * TILE_ROWS * 4);
  wide.set(tile.narrow!);
  return { ...tile, narrow: null, wide };
}

function viewOf(tile: HistogramTile): TileView {
  return { count: tile.count, narrow: tile.narrow, wide: tile.wide, imageIds: tile.imageIds, userIds: tile.userIds, sums: tile.sums };
}
