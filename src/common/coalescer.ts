/**
 * Group commit for requests that each need the same few round trips: items submitted while
 * `maxInFlight` runs are already under way wait, and go together in the next run, up to
 * `maxBatch` at a time. A lone item runs at once, so an idle server adds no delay; under load the
 * fixed cost of a run (its transaction, its locks, its queue round trip) is shared by its batch.
 *
 * `run` answers one outcome per item, in order: a value, or an Error that is that item's alone.
 * Should `run` itself throw, every item of its batch fails with that error.
 */
export class Coalescer<Item, Outcome> {
  private readonly waiting: { item: Item; resolve(outcome: Outcome): void; reject(error: unknown): void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: Item[]) => Promise<(Outcome | Error)[]>,
    private readonly maxInFlight: number,
    private readonly maxBatch: number,
  ) {}

  submit(item: Item): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Runs start on the next turn of the event loop, so that items whose requests were read in the
   * same turn share one run.
   */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      this.run(batch.map((entry) => entry.item))
        .then(
          (outcomes) =>
            batch.forEach((entry, index) => {
              const outcome = outcomes[index];
              if (outcome instanceof Error) entry.reject(outcome);
              else entry.resolve(outcome);
            }),
          (error: unknown) => batch.forEach((entry) => entry.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.schedule();
        });
    }
  }
}
