import { createParser } from 'eventsource-parser';
import { api, inParallel, signUp, startProduct, uploadTinyImage } from './bench-support';

const JOBS = Number(process.env.BENCH_EVENT_JOBS ?? 200);
const CLIENTS = 4;

/**
 * `npm run bench:events`: the delay from a job's status or progress change (the trigger's clock
 * time, the `at` of each event, taken inside the changing transaction) to the moment a client of
 * GET /api/jobs/events parses the event, over JOBS tiny jobs run by the product's own worker.
 */
async function main(): Promise<void> {
  const product = await startProduct({ AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0' });
  const stream = new AbortController();
  try {
    const token = await signUp(product);
    const imageId = await uploadTinyImage(product, token);

    const delays: number[] = [];
    const finished = new Set<number>();
    let allFinished: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allFinished = resolve));
    const response = await fetch(`${product.url}/api/jobs/events`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      signal: stream.signal,
    });
    if (!response.ok) throw new Error(`events: ${response.status} ${await response.text()}`);
    const parser = createParser({
      onEvent: (message) => {
        const receivedAt = Date.now();
        const data = JSON.parse(message.data) as { job_id: number; at?: string; status?: string };
        if (data.at) delays.push(receivedAt - Date.parse(data.at));
        if (data.status === 'completed' || data.status === 'failed') finished.add(data.job_id);
        if (finished.size === JOBS) allFinished();
      },
    });
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body!) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    })().catch((error: Error) => {
      if (!stream.signal.aborted) throw error;
    });

    const started = performance.now();
    await inParallel([...Array(JOBS).keys()], CLIENTS, async () => {
      await api(product.url, token, '/api/jobs.json', {
        method: 'POST',
        body: JSON.stringify({ image_id: imageId, job_sequence: ['process', 'invert'] }),
      });
    });
    const timeout = setTimeout(() => stream.abort(), 120_000);
    await Promise.race([done, reading]);
    clearTimeout(timeout);
    if (finished.size < JOBS) throw new Error(`Only ${finished.size} of ${JOBS} jobs were seen finishing on the stream`);
    const seconds = (performance.now() - started) / 1000;

    delays.sort((a, b) => a - b);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
    const line = (label: string, value: string) => console.log(`${label.padEnd(44)} ${value}`);
    console.log(
      `\n${JOBS} jobs ["process", "invert"] on a 64×64 PNG, ${CLIENTS} clients, ${process.env.REDIS_URL ? 'Redis' : 'PostgreSQL'} queue`,
    );
    line('events received on GET /api/jobs/events', `${delays.length} in ${seconds.toFixed(1)} s`);
    line('change → client, p50', `${at(0.5)} ms`);
    line('change → client, p95', `${at(0.95)} ms`);
    line('change → client, p99', `${at(0.99)} ms`);
    line('change → client, max', `${delays.at(-1)} ms (target < 100 ms)`);
  } finally {
    stream.abort();
    await product.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
