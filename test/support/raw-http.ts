/**
 * HTTP/1.1 over a bare TCP socket, for what `app.inject` cannot send: malformed request lines and headers, lengths
 * that disagree with the body, broken chunked encoding, bytes after a request. Sends the bytes as given and parses
 * the answers with a deliberately small reader (status line, headers, a Content-Length or chunked body).
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Every complete response read, in order. */
  responses: RawResponse[];
  /** The server closed the connection. */
  closed: boolean;
  /** Nothing complete arrived, and the connection stayed open, within the time allowed. */
  timedOut: boolean;
  /** Bytes received that did not make a complete response. */
  rest: string;
}

export interface RawOptions {
  /** Give up after this long (the hang guard). */
  timeoutMs?: number;
  /** Half-close the connection after sending (the client has nothing more to say). */
  end?: boolean;
  /**
   * Half-close once nothing has arrived for this long: a request whose body is shorter than its length is then
   * answered instead of awaited, a kept-alive connection is closed after its answers, and a request being worked on
   * is not cut off (Node aborts a request whose client half-closes before the answer).
   */
  endAfterMs?: number;
  /** Wait for the server to close instead of returning after the first complete response. */
  untilClose?: boolean;
}

/** Splits complete responses off the front of `buffer`; returns them and what is left. Answers to HEAD (`head`), 1xx, 204 and 304 have no body. */
export function parseResponses(buffer: Buffer, head = false): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = buffer.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const [statusLine, ...lines] = buffer.subarray(at, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (head || status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const sizeEnd = buffer.indexOf('\r\n', bodyStart);
        if (sizeEnd === -1) break;
        const size = parseInt(buffer.subarray(bodyStart, sizeEnd).toString('latin1'), 16);
        if (Number.isNaN(size) || buffer.length < sizeEnd + 2 + size + 2) break;
        parts.push(buffer.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        bodyStart = sizeEnd + 2 + size + 2;
        if (size === 0) { complete = true; break; }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (buffer.length < bodyStart + length) break;
      body = buffer.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    responses.push({ status, headers, body: body.toString('utf8') });
    at = bodyStart;
  }
  return { responses, rest: buffer.subarray(at) };
}

/** Sends `chunks` (written one after another) to 127.0.0.1:`port` and reads the answer(s). Never rejects. */
export function rawExchange(port: number, chunks: string | Buffer | (string | Buffer)[], opts: RawOptions = {}): Promise<RawExchange> {
  const { timeoutMs = 10_000, end = false, untilClose = false, endAfterMs } = opts;
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let received = Buffer.alloc(0);
    let settled = false;
    const head = Buffer.from([chunks].flat()[0] ?? '').subarray(0, 5).toString('latin1') === 'HEAD ';
    const finish = (closed: boolean, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(ender);
      socket.destroy();
      const { responses, rest } = parseResponses(received, head);
      resolve({ responses, closed, timedOut: timedOut && responses.length === 0, rest: rest.toString('latin1') });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    let ender: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      for (const c of [chunks].flat()) if (!socket.destroyed) socket.write(c);
      if (end && !socket.destroyed) socket.end();
      ender?.refresh();
    });
    if (endAfterMs !== undefined) ender = setTimeout(() => { if (!socket.destroyed) socket.end(); }, endAfterMs);
    socket.on('data', (d: Buffer) => {
      ender?.refresh();
      received = Buffer.concat([received, d]);
      if (!untilClose && parseResponses(received, head).responses.filter((r) => r.status >= 200).length > 0) finish(false, false);
    });
    // A reset after the server answered and closed (it may not read what we still send) is a close.
    socket.on('error', () => finish(true, false));
    socket.on('close', () => finish(true, false));
  });
}
