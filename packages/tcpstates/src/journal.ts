// -Y: state changes logged to the systemd journal, one entry per change.
//
// BCC sends each entry with python-systemd's journal.send(): the native
// protocol, datagrams on /run/systemd/journal/socket, with MESSAGE and its own
// OBJECT_* fields. Node cannot send on a Unix datagram socket, so this uses
// journald's stream protocol instead (what systemd-cat uses): one Unix stream
// connection to /run/systemd/journal/stdout, a header naming the identifier
// and priority, then one entry per line. The entries carry BCC's MESSAGE text,
// SYSLOG_IDENTIFIER=tcpstates and PRIORITY=5 (notice) as BCC's do, and the
// fields journald adds itself (_PID, _COMM... of tcpstates); BCC's OBJECT_*
// fields are not sent (the stream protocol has only the message).
import { statSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';

export const JOURNAL_STREAM = '/run/systemd/journal/stdout';

export class Journal {
  readonly #sock: Socket;
  readonly #onError: (err: Error) => void;
  #error: Error | undefined;

  /** Throws (one line) when no journald listens here. */
  constructor(onError: (err: Error) => void, identifier = 'tcpstates', priority = 5, path = JOURNAL_STREAM) {
    let isSocket = false;
    try {
      isSocket = statSync(path).isSocket();
    } catch {
      // not there
    }
    if (!isSocket) throw new Error(`-Y: the systemd journal is not running here (no ${path})`);
    // journald shuts its side down at once (it never writes back): stay half-open,
    // or Node would end ours too at that EOF.
    this.#sock = createConnection({ path, allowHalfOpen: true });
    this.#onError = onError;
    this.#sock.on('error', (err) => this.#fail(err));
    // identifier, unit id, priority, level prefix, forward to syslog, kmsg, console
    this.#sock.write(`${identifier}\n\n${priority}\n0\n0\n0\n0\n`);
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#onError(new Error(`-Y: the systemd journal: ${err.message}`));
  }

  /** One entry (a line: `message` holds no newline). */
  send(message: string): void {
    if (this.#error) return;
    if (this.#sock.destroyed) this.#fail(new Error('the connection closed'));
    else this.#sock.write(`${message}\n`);
  }

  /** Sends what is queued and closes; resolves once done (or after 2 s). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.#sock.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#sock.end();
    });
  }
}
