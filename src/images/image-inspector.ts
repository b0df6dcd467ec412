import { ChildProcess, spawn } from 'node:child_process';
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { Sharp, SharpOptions } from 'sharp';

/** What an image file's header declares. */
export interface ImageHeader {
  format?: string;
  compression?: string;
  width?: number;
  height?: number;
  pages?: number;
  pageHeight?: number;
}

/** The file is not an image sharp can read, or not a whole one: sharp's message says why. */
export class ImageUnreadable extends Error {}

/** The checking process died or hung on the file (a fault in native decoding code). */
export class ImageCheckCrashed extends Error {}

// These run in the checking process, built from their source text as the reducer threads are, so
// they must stand alone: sharp is handed in, nothing else is referenced.
async function readHeader(sharp: (path: string, options: SharpOptions) => Sharp, path: string): Promise<ImageHeader> {
  // Only the header is read here, so no pixel limit yet: the caller checks the size it declares.
  const metadata = await sharp(path, { limitInputPixels: false }).metadata();
  const { format, compression, width, height, pages, pageHeight } = metadata;
  return { format, compression, width, height, pages, pageHeight };
}

async function decodeScanlines(sharp: (path: string, options: SharpOptions) => Sharp, path: string, width: number, maxPixels: number): Promise<boolean> {
  // Every scanline is decoded, at the reduced width where the format can shrink on load (JPEG,
  // WebP): a truncated or corrupt stream still fails, at a fraction of a full decode's cost.
  await sharp(path, { limitInputPixels: maxPixels, failOn: 'truncated', pages: -1 }).resize({ width }).raw().toBuffer();
  return true;
}

const PROGRAM = `
const sharp = require(${JSON.stringify(require.resolve('sharp'))});
sharp.cache(false);
const tasks = { readHeader: ${readHeader.toString()}, decodeScanlines: ${decodeScanlines.toString()} };
process.on('message', ({ id, task, args }) => {
  tasks[task](sharp, ...args).then(
    (result) => process.send({ id, result }),
    (error) => process.send({ id, error: String((error && error.message) || error) }),
  );
});
process.on('disconnect', () => process.exit(0));
`;

const CHECK_TIMEOUT_MS = 60_000;

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Reads uploaded image files with sharp in a child process of its own, so that a file which
 * crashes libvips (or makes it hang) costs that child, which the next upload replaces, and never
 * the API. The child is started on the first check; one serves all the checks in flight, since
 * libvips spreads each over every core anyway.
 */
@Injectable()
export class ImageInspector implements OnModuleDestroy {
  private readonly logger = new Logger(ImageInspector.name);
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  header(path: string): Promise<ImageHeader> {
    return this.call('readHeader', [path]) as Promise<ImageHeader>;
  }

  /** Decodes every scanline of the file at `width` pixels across, refusing more than `maxPixels`. */
  async decode(path: string, width: number, maxPixels: number): Promise<void> {
    await this.call('decodeScanlines', [path, width, maxPixels]);
  }

  /** The checking process's id while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  onModuleDestroy(): void {
    this.child?.kill();
  }

  private call(task: string, args: unknown[]): Promise<unknown> {
    const child = this.child?.connected ? this.child : this.start();
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ImageCheckCrashed(`checking it took over ${CHECK_TIMEOUT_MS / 1000} s`));
        this.logger.error(`Checking ${String(args[0])} took over ${CHECK_TIMEOUT_MS / 1000} s; stopping the checking process`);
        child.kill('SIGKILL');
      }, CHECK_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ id, task, args }, (error) => {
        if (!error || !this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new ImageCheckCrashed(`the image checking process could not be reached (${error.message})`));
      });
    });
  }

  private start(): ChildProcess {
    const child = spawn(process.execPath, ['-e', PROGRAM], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    // A failed start or a message to a process that just died: the calls learn of it themselves.
    child.on('error', (error) => this.logger.error(`The image checking process failed: ${error.message}`));
    child.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const call = this.pending.get(id);
      if (!call) return;
      this.pending.delete(id);
      clearTimeout(call.timer);
      if (error === undefined) call.resolve(result);
      else call.reject(new ImageUnreadable(error));
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.pending.size === 0) return;
      this.logger.error(`The image checking process exited (${signal ?? `code ${code}`}) with ${this.pending.size} check(s) in flight`);
      for (const call of this.pending.values()) {
        clearTimeout(call.timer);
        call.reject(new ImageCheckCrashed(`the image decoder crashed or hung on it (${signal ?? `exit code ${code}`})`));
      }
      this.pending.clear();
    });
    // An idle checker must not keep the API process alive at shutdown.
    child.unref();
    child.channel?.unref();
    return child;
  }
}
