/** The server side of the TLS 1.3 handshake: the state a new connection starts in. */
export { ExpectClientHello } from './hello.js';
