import net from 'node:net';
import tls from 'node:tls';

export interface DialOptions {
  host: string;
  port: number;
  /** true = TLS with default options (servername = host); an object = node:tls options (ca, cert, ...). */
  tls?: boolean | tls.ConnectionOptions;
}

/** Opens a TCP or TLS socket; `ready` is the event after which frames may be written. */
export function dial(opts: DialOptions): { socket: net.Socket; ready: 'connect' | 'secureConnect' } {
  const { host, port } = opts;
  const socket =
    opts.tls !== undefined && opts.tls !== false
      ? tls.connect({
          host,
          port,
          ...(net.isIP(host) ? {} : { servername: host }),
          ...(typeof opts.tls === 'object' ? opts.tls : {}),
        })
      : net.connect({ host, port });
  socket.setNoDelay(true);
  return { socket, ready: socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect' };
}
