import { Injectable } from '@nestjs/common';
import { AttemptWrites, AttemptWritesOutcome, JobOutputRepository } from './job-output.repository';

/** How long the first of several attempts' writes waits, at most, for the others to join it. */
const GATHER_MS = 3;

interface Waiting {
  writes: AttemptWrites;
  resolve: (outcome: AttemptWritesOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit of the attempts running in this process: writes that arrive together go to
 * PostgreSQL in one statement (JobOutputRepository.recordAttempts), each under its own fence. A
 * write waits only while other attempts are running that may join it, and never more than
 * GATHER_MS; once every running attempt is waiting, they are written at once.
 */
@Injectable()
export class GroupCommit {
  private gathering: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly outputs: JobOutputRepository) {}

  /** `running`: how many attempts this process is running, this one included. */
  write(writes: AttemptWrites, running: number): Promise<AttemptWritesOutcome> {
    return new Promise((resolve, reject) => {
      this.gathering.push({ writes, resolve, reject });
      if (this.gathering.length >= running) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), GATHER_MS);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.send(this.gathering.splice(0));
  }

  private async send(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.outputs.recordAttempts(batch.map((waiting) => waiting.writes));
      batch.forEach((waiting, index) => waiting.resolve(outcomes[index]));
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
      // An error of the whole statement (say a deadlock with a delete of one job's source): each
      // attempt's writes are sent again on their own, so that it is only the concerned one's.
      await Promise.all(batch.map((waiting) => this.outputs.recordAttempts([waiting.writes]).then(([outcome]) => waiting.resolve(outcome), waiting.reject)));
    }
  }
}
