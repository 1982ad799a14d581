/** The client side of the TLS 1.3 (and 1.2) handshake: the first state (it sends ClientHello) and tickets into sessions. */
export { sendFirstClientHello, startClientHandshake, type FirstClientHello } from './server-hello.js';
export { sessionFromTicket } from './session.js';
export { decodeTls12Session, isTls12Session, type Tls12ClientSession } from '../client12/session12.js';
