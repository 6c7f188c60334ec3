/** A small client of the MatMoE HTTP API for the CLI; problem+json answers become one readable error. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly errors: { index?: number; message: string }[] = []) {
    super(message);
  }
}

export class ApiClient {
  constructor(readonly baseUrl: string, private readonly apiKey?: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: this.headers(body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, 'unreachable', `cannot reach the MatMoE API at ${this.baseUrl} (${(err as Error).message}); start it with "npx matmoe serve" or set --url / MATMOE_URL`);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!res.ok) {
      throw new ApiError(res.status, String(json.code ?? 'error'), String(json.detail ?? res.statusText), (json.errors as { index?: number; message: string }[]) ?? []);
    }
    return json as T;
  }

  /** Server-Sent Events of a job: calls `onJob` with each state until the stream ends. */
  async followJob(id: string, onJob: (job: Record<string, unknown>) => void): Promise<void> {
    const res = await fetch(new URL(`/v1/jobs/${id}/events`, this.baseUrl), { headers: this.headers() });
    if (!res.ok || !res.body) throw new ApiError(res.status, 'events_failed', `could not follow job ${id}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === 'job' && data) onJob(JSON.parse(data) as Record<string, unknown>);
        if (event === 'end') return;
      }
    }
  }
}
