import { jobEvents } from './job-events';

/** A text/event-stream answer whose body arrives in the given chunks. */
function stream(chunks: string[]): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
}

describe('jobEvents', () => {
  it('yields events split anywhere across chunks, and ends at a final status', async () => {
    const asked: (string | undefined)[] = [];
    const events = [];
    for await (const event of jobEvents(async (lastEventId) => {
      asked.push(lastEventId);
      return stream([
        ': stream open\n\nid: 1\nevent: sta',
        'tus\ndata: {"status":"running"}\n\nid: 2\nevent: progress\ndata: {"step":1}\n\n',
        'id: 3\nevent: status\ndata: {"status":"completed"}\n\nid: 4\nevent: progress\ndata: {}\n\n',
      ]);
    })) {
      events.push(event);
    }
    expect(events).toEqual([
      { type: 'status', id: '1', data: { status: 'running' } },
      { type: 'progress', id: '2', data: { step: 1 } },
      { type: 'status', id: '3', data: { status: 'completed' } },
    ]);
    expect(asked).toEqual([undefined]);
  });

  it('reconnects with Last-Event-ID when the stream ends before the job', async () => {
    const answers = [
      stream(['id: 5\nevent: status\ndata: {"status":"running"}\n\n', ': this node is shutting down\n\n']),
      stream(['id: 6\nevent: status\ndata: {"status":"failed"}\n\n']),
    ];
    const asked: (string | undefined)[] = [];
    const types = [];
    for await (const event of jobEvents(async (lastEventId) => {
      asked.push(lastEventId);
      return answers.shift()!;
    })) {
      types.push(event.data.status);
    }
    expect(types).toEqual(['running', 'failed']);
    expect(asked).toEqual([undefined, '5']);
  });

  it('gives up on a stream that keeps closing without an event, and on an error answer', async () => {
    await expect(async () => {
      for await (const _event of jobEvents(async () => stream([': heartbeat\n\n'])));
    }).rejects.toThrow(/without an event/);
    await expect(async () => {
      for await (const _event of jobEvents(async () => new Response('{"error":"No job with id 9"}', { status: 404 })));
    }).rejects.toThrow(/404.*No job with id 9/);
  });
});
