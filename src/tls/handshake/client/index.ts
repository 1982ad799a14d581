/** The client side of the TLS 1.3 handshake: the first state (it sends ClientHello) and tickets into sessions. */
export { sendFirstClientHello, startClientHandshake, type FirstClientHello } from './server-hello.js';
export { sessionFromTicket } from './session.js';
