import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { operationRegistry } from '../src/worker/operation-registry';
import { openStepInput } from '../src/worker/process-pipeline';
import { api, inParallel, makePhotos, startProduct } from './bench-support';

/**
 * `npm run bench:pipeline`: 200 photographs (1920×1080 JPEGs cut from a real photo) through
 * upload → ["process", "grayscale", "histogram"] → completed on the running product, against the
 * same pixel work (decode, grayscale, histogram, PNG encode, chart) in a bare sharp loop.
 */
const PHOTOS = Number(process.env.BENCH_PHOTOS ?? 200);
const PNG_COMPRESSION = Number(process.env.PNG_COMPRESSION ?? 1);
const MAX_PIXELS = 50_000_000;

/**
 * The worker's own operations, called directly and handed from one to the next as the pipeline
 * does: the pixel work with nothing around it.
 */
async function bareLoop(photos: Buffer[], concurrency: number): Promise<number> {
  const grayscale = operationRegistry.get('grayscale')!;
  const histogram = operationRegistry.get('histogram')!;
  const context = { pngCompression: PNG_COMPRESSION };
  const started = performance.now();
  await inParallel(photos, concurrency, async (photo) => {
    const grey = await grayscale.run(openStepInput({ data: photo }, MAX_PIXELS), {}, context);
    await histogram.run(openStepInput(grey, MAX_PIXELS), {}, context);
  });
  return photos.length / ((performance.now() - started) / 1000);
}

async function throughProduct(photos: Buffer[]): Promise<number> {
  const product = await startProduct({ PNG_COMPRESSION: String(PNG_COMPRESSION) });
  try {
    const username = `bench${Date.now()}`;
    const user = await api(product.url, '', '/api/users.json', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
    });
    const token: string = user.authentication_token;
    const jobIds: number[] = [];
    const started = performance.now();
    await inParallel(photos, 4, async (photo, index) => {
      const form = new FormData();
      form.append('file', new Blob([photo], { type: 'image/jpeg' }), `photo-${index}.jpg`);
      const uploaded = await fetch(`${product.url}/api/images.json`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form });
      if (uploaded.status !== 201) throw new Error(`upload: ${uploaded.status} ${await uploaded.text()}`);
      const image = (await uploaded.json()) as { id: number };
      const job = await api(product.url, token, '/api/jobs.json', {
        method: 'POST',
        body: JSON.stringify({ image_id: image.id, job_sequence: ['process', 'grayscale', 'histogram'] }),
      });
      jobIds.push(job.id);
    });
    // Jobs finish in about the order they were queued: wait on the last one, then confirm all,
    // so that watching costs the product almost nothing.
    const lastJob = Math.max(...jobIds);
    for (;;) {
      const job = await api(product.url, token, `/api/jobs/${lastJob}.json`);
      if (job.status === 'failed') throw new Error(`Job ${lastJob} failed: ${job.error}`);
      if (job.status === 'completed') {
        const jobs: { status: string; error: string | null }[] = await api(product.url, token, '/api/jobs.json?n=all');
        const failed = jobs.find((candidate) => candidate.status === 'failed');
        if (failed) throw new Error(`A job failed: ${failed.error}`);
        if (jobs.every((candidate) => candidate.status === 'completed')) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return photos.length / ((performance.now() - started) / 1000);
  } finally {
    await product.stop();
  }
}

async function main(): Promise<void> {
  sharp.cache(false);
  const photos = await makePhotos(PHOTOS);
  const concurrencies = [1, 2, 4].filter((n) => n <= Math.max(2, availableParallelism() * 2));
  const bare: Record<number, number> = {};
  for (const concurrency of concurrencies) bare[concurrency] = await bareLoop(photos, concurrency);
  const [bestConcurrency, bestBare] = Object.entries(bare).sort((a, b) => b[1] - a[1])[0];
  const product = await throughProduct(photos);
  const line = (label: string, value: string) => console.log(`${label.padEnd(44)} ${value}`);
  console.log(`\n${PHOTOS} photographs, 1920×1080 JPEG, ["process", "grayscale", "histogram"], PNG compression ${PNG_COMPRESSION}`);
  for (const [concurrency, rate] of Object.entries(bare)) line(`bare sharp loop, concurrency ${concurrency}`, `${rate.toFixed(1)} photos/s`);
  line(`bare sharp loop, best (concurrency ${bestConcurrency})`, `${bestBare.toFixed(1)} photos/s`);
  line('product: upload → queue → worker → completed', `${product.toFixed(1)} photos/s`);
  line('ratio product / bare', `${(product / bestBare).toFixed(2)} (target ≥ 0.80)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
