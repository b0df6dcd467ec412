/**
 * A value read at most once per `ttlMs`: concurrent callers share one read in flight, and a failed
 * read is not kept, so the next caller tries again.
 */
export class CachedReading<T> {
  private value: { at: number; reading: Promise<T> } | null = null;

  constructor(
    private readonly ttlMs: number,
    private readonly read: () => Promise<T>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(): Promise<T> {
    const now = this.now();
    if (this.value && now - this.value.at < this.ttlMs) return this.value.reading;
    const reading = this.read();
    const entry = { at: now, reading };
    this.value = entry;
    reading.catch(() => {
      if (this.value === entry) this.value = null;
    });
    return reading;
  }
}
