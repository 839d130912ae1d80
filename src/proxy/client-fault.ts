/**
 * Requests Node's HTTP parser refused before the pipeline saw them (smuggling shapes, header
 * floods, slowloris): the precise answer each fault gets, written straight to the socket because
 * no ServerResponse exists for them.
 */
import type { Socket } from 'node:net';

/** A request the HTTP parser refused before the pipeline saw it (smuggling shapes, header floods, slowloris). */
export interface ClientFault {
  status: number;
  error: string;
  message: string;
}

/** Node's parser and timeout error codes as the precise answer the client gets. */
export function clientFault(err: { code?: string; message?: string }): ClientFault {
  const code = err.code;
  // Node names the CL+TE clash by whichever header came second; both are the same smuggling shape.
  if (/can't be present with/.test(err.message ?? '')) {
    return { status: 400, error: 'ambiguous_length', message: 'The request carries both Content-Length and Transfer-Encoding; it is refused.' };
  }
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, error: 'headers_too_large', message: 'The request line and headers exceed the gateway\'s limit.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, error: 'request_timeout', message: 'The request was not received in time.' };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, error: 'ambiguous_length', message: 'The request carries conflicting framing (Content-Length with Transfer-Encoding, or more than one Content-Length); it is refused.' };
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, error: 'ambiguous_length', message: 'The request carries an invalid Content-Length; it is refused.' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { status: 400, error: 'bad_framing', message: 'The request carries a Transfer-Encoding the gateway does not accept; it is refused.' };
    default:
      return { status: 400, error: 'bad_request', message: `The request is not valid HTTP/1.1${code ? ` (${code})` : ''}.` };
  }
}

const REASON: Record<number, string> = { 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** Writes the fault's JSON answer (naming `requestId`) to the socket and closes it. */
export function answerClientFault(socket: Socket, fault: ClientFault, requestId: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: fault.error, message: fault.message, request_id: requestId });
  socket.end(
    `HTTP/1.1 ${fault.status} ${REASON[fault.status] ?? 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nx-request-id: ${requestId}\r\n\r\n${body}`,
  );
}
