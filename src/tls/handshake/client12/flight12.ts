import { ClientCertificateType, HandshakeType } from '../../codec/enums.js';
import { encodeCertificateVerify } from '../../codec/messages/certificate-verify.js';
import { encodeCertificate12 } from '../../codec/messages/tls12/certificate.js';
import { encodeClientKeyExchange } from '../../codec/messages/tls12/client-key-exchange.js';
import { extendedMasterSecret, tls12KeyBlock } from '../../keyschedule/prf12.js';
import { Protector12 } from '../../record/protector12.js';
import type { HandshakeState } from '../state.js';
import { expectServerEnd12, sendFinished12 } from './finished12.js';
import type { CertificateRequested12, Server12Identity, Tls12Negotiated } from './negotiated12.js';

/**
 * Our flight of a full TLS 1.2 handshake (RFC 5246 §7.3): Certificate when
 * asked, ClientKeyExchange, CertificateVerify when we sent a chain,
 * ChangeCipherSpec and Finished. The master secret is the extended one
 * (RFC 7627 §4), over the messages through ClientKeyExchange.
 */
export function sendClientFlight12(
  hello: Tls12Negotiated,
  server: Server12Identity & { readonly kind: 'certificate' },
  serverShare: Buffer,
  request: CertificateRequested12 | undefined,
): HandshakeState {
  const { ctx, suite, log } = hello;
  const scheme = request === undefined ? undefined : sendCertificate12(hello, request);
  const exchange = ctx.provider.generateKeyExchange(server.group);
  // RFC 8422 §5.10: the premaster secret is the ECDH shared secret (the x-coordinate, or the X25519/X448 output).
  const preMasterSecret = exchange.computeSharedSecret(serverShare);
  log.add(ctx.sendHandshake(HandshakeType.client_key_exchange, encodeClientKeyExchange({ publicKey: exchange.publicKey })));
  const masterSecret = extendedMasterSecret(ctx.provider, suite.hash, preMasterSecret, log.hash(suite.hash));
  ctx.logSecret('CLIENT_RANDOM', hello.clientRandom, masterSecret);
  if (scheme !== undefined) sendCertificateVerify12(hello, scheme);
  const keys = tls12KeyBlock(ctx.provider, suite, masterSecret, hello.clientRandom, hello.serverRandom);
  ctx.changeWriteCipher(new Protector12(ctx.provider, suite, keys.client));
  sendFinished12(hello, masterSecret);
  return expectServerEnd12({ negotiated: hello, masterSecret, server }, keys, 'ours-sent');
}

/**
 * RFC 5246 §7.4.6: our chain when our key is of a type the server takes
 * (RFC 8422 §5.5: ecdsa_sign for EC and EdDSA keys) and can sign with a
 * scheme it accepts; else an empty Certificate. Returns the scheme to sign
 * with, or undefined when we sent no chain.
 */
function sendCertificate12(hello: Tls12Negotiated, request: CertificateRequested12): number | undefined {
  const { config, ctx, log } = hello;
  const keyType = config.privateKey?.asymmetricKeyType;
  const certificateType = keyType === 'rsa' ? ClientCertificateType.rsa_sign : ClientCertificateType.ecdsa_sign;
  const scheme = request.certificateTypes.includes(certificateType)
    ? config.signSchemes.find((s) => request.schemes.includes(s))
    : undefined;
  const chain = scheme === undefined ? [] : config.certChain;
  log.add(ctx.sendHandshake(HandshakeType.certificate, encodeCertificate12({ chain })));
  return chain.length === 0 ? undefined : scheme;
}

/** RFC 5246 §7.4.8: our signature over every handshake message so far (a DigitallySigned, the same layout as TLS 1.3's). */
function sendCertificateVerify12(hello: Tls12Negotiated, scheme: number): void {
  // signSchemes is empty without a key, so a scheme means a key; this only narrows the type.
  const key = hello.config.privateKey;
  if (key === undefined) return;
  const signature = hello.ctx.provider.sign(scheme, key, hello.log.bytes());
  hello.log.add(hello.ctx.sendHandshake(HandshakeType.certificate_verify, encodeCertificateVerify({ algorithm: scheme, signature })));
}
