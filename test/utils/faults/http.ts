/** What an HTTP call answered, or how it broke (`status` 0: no answer, e.g. the API died). */
export interface Answer {
  status: number;
  body: any;
  error?: string;
}

/** A JSON client of one API process, over real HTTP, as a mobile client talks to it. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  withToken(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async request(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let payload: string | FormData | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    try {
      const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON: keep the text.
      }
      return { status: response.status, body: parsed };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { status: 0, body: null, error: `${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}` };
    }
  }

  /** The request, which must answer `expected`; the body. */
  async expect(expected: number, method: string, path: string, body?: unknown): Promise<any> {
    const answer = await this.request(method, path, body);
    if (answer.status !== expected) {
      throw new Error(
        `${method} ${path} answered ${answer.status || answer.error}, expected ${expected}: ${JSON.stringify(answer.body)?.slice(0, 500)}`,
      );
    }
    return answer.body;
  }

  async signUp(username: string): Promise<ApiClient> {
    const body = await this.expect(201, 'POST', '/api/users.json', { username, email: `${username}@example.com`, password: 'password123' });
    if (!body.authentication_token) throw new Error(`Sign-up answered no authentication_token: ${JSON.stringify(body)}`);
    return this.withToken(body.authentication_token);
  }

  /** Uploads `file` as a new image in one multipart request; its JSON. */
  async uploadImage(file: Buffer, filename = 'photo.png', mime = 'image/png'): Promise<{ id: number; [field: string]: unknown }> {
    const form = new FormData();
    form.append('file', new Blob([file], { type: mime }), filename);
    return this.expect(201, 'POST', '/api/images.json', form);
  }

  createJob(body: Record<string, unknown>): Promise<Answer> {
    return this.request('POST', '/api/jobs.json', body);
  }

  getJob(id: number): Promise<Answer> {
    return this.request('GET', `/api/jobs/${id}.json`);
  }

  cancelJob(id: number): Promise<Answer> {
    return this.request('POST', `/api/jobs/${id}/cancel`);
  }

  retryJob(id: number): Promise<Answer> {
    return this.request('POST', `/api/jobs/${id}/retry`);
  }

  deleteImage(id: number): Promise<Answer> {
    return this.request('DELETE', `/api/images/${id}.json`);
  }
}
