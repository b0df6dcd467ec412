import { Global, Injectable, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { AppConfig } from './config/app-config';

const STOP_HOOKS = ['onModuleDestroy', 'beforeApplicationShutdown', 'onApplicationShutdown'] as const;

/** How often a stop that takes too long is reported, once it does. */
export const REPORT_EVERY_MS = 10_000;

/** Past SHUTDOWN_GRACE, which bounds the work a stop waits for (jobs, requests), a hook is late. */
const LATE_AFTER_GRACE_MS = 5_000;

/**
 * Names what holds a process's stop. Nest awaits the stop hooks module after module and says
 * nothing while one does not return, so a stop that hangs (a pool waiting for a connection that is
 * never given back, say) leaves no trace but a process that will not exit. Every stop hook of
 * the application is timed; one still running SHUTDOWN_GRACE + 5 s after it began is named in a
 * warning, again every 10 s.
 */
@Injectable()
export class ShutdownWatch implements OnApplicationBootstrap {
  private readonly logger = new Logger(ShutdownWatch.name);
  /** Each stop hook running, with when it began. */
  private readonly running = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly config: AppConfig,
  ) {}

  /** Every provider and controller exists by now: their stop hooks are wrapped, each instance once. */
  onApplicationBootstrap(): void {
    const seen = new WeakSet<object>();
    for (const module of this.modules.values()) {
      for (const wrapper of [...module.providers.values(), ...module.controllers.values()]) {
        const instance: unknown = wrapper.isDependencyTreeStatic() && !wrapper.isTransient ? wrapper.instance : null;
        if (typeof instance !== 'object' || instance === null || seen.has(instance)) continue;
        seen.add(instance);
        this.watch(instance as Record<string, unknown>, String(wrapper.name));
      }
    }
  }

  private watch(instance: Record<string, unknown>, name: string): void {
    for (const hook of STOP_HOOKS) {
      const original = instance[hook];
      if (typeof original !== 'function') continue;
      instance[hook] = (...args: unknown[]) => this.timed(`${name}.${hook}`, () => original.apply(instance, args) as unknown);
    }
  }

  private async timed(label: string, run: () => unknown): Promise<unknown> {
    this.running.set(label, Date.now());
    this.timer ??= setInterval(() => this.report(), REPORT_EVERY_MS).unref();
    try {
      return await run();
    } finally {
      this.running.delete(label);
      if (this.running.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }
  }

  private report(): void {
    const now = Date.now();
    const lateAfter = this.config.SHUTDOWN_GRACE * 1000 + LATE_AFTER_GRACE_MS;
    const late = [...this.running]
      .filter(([, since]) => now - since >= lateAfter)
      .map(([label, since]) => `${label} (${Math.round((now - since) / 1000)} s)`);
    if (late.length > 0) this.logger.warn(`The stop is still waiting on ${late.join(', ')}`);
  }
}

@Global()
@Module({ providers: [ShutdownWatch] })
export class ShutdownWatchModule {}
