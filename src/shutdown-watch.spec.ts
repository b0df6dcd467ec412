import { Injectable, Logger, Module, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { REPORT_EVERY_MS, ShutdownWatchModule } from './shutdown-watch';

/** A stop hook that returns only when the test lets it. */
@Injectable()
class StuckPool implements OnApplicationShutdown {
  release: () => void = () => undefined;
  readonly ended = new Promise<void>((resolve) => (this.release = resolve));

  onApplicationShutdown(): Promise<void> {
    return this.ended;
  }
}

@Injectable()
class QuickListener implements OnModuleDestroy {
  destroyed = 0;

  onModuleDestroy(): void {
    this.destroyed++;
  }
}

@Module({ providers: [StuckPool, QuickListener] })
class StoppingModule {}

describe('ShutdownWatch', () => {
  let warnings: string[];

  beforeEach(() => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
  });

  afterEach(() => {
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  async function start(shutdownGrace: number) {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot({ SHUTDOWN_GRACE: shutdownGrace } as AppConfig), ShutdownWatchModule, StoppingModule],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('names a stop hook still running SHUTDOWN_GRACE + 5 s after it began, every 10 s until it returns', async () => {
    const app = await start(10);
    jest.useFakeTimers();
    const stuck = app.get(StuckPool);
    const closed = app.close();
    await jest.advanceTimersByTimeAsync(REPORT_EVERY_MS);
    expect(warnings).toEqual([]);
    await jest.advanceTimersByTimeAsync(REPORT_EVERY_MS);
    expect(warnings).toEqual(['The stop is still waiting on StuckPool.onApplicationShutdown (20 s)']);
    await jest.advanceTimersByTimeAsync(REPORT_EVERY_MS);
    expect(warnings).toHaveLength(2);
    stuck.release();
    await closed;
    await jest.advanceTimersByTimeAsync(REPORT_EVERY_MS * 3);
    expect(warnings).toHaveLength(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('leaves every hook its behaviour and says nothing of a stop that returns in time', async () => {
    const app = await start(0);
    const quick = app.get(QuickListener);
    const stuck = app.get(StuckPool);
    stuck.release();
    await app.close();
    expect(quick.destroyed).toBe(1);
    expect(warnings).toEqual([]);
  });
});
