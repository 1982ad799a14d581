import type { FuzzTarget, TargetName } from '../target.js';
import { ClientHelloTarget } from './clienthello.js';
import { CsrTarget } from './csr.js';
import { HttpTarget } from './http.js';
import { JwkTarget } from './jwk.js';
import { OcspTarget } from './ocsp.js';
import { Tls12Target } from './tls12.js';
import { Tls12HelloTarget } from './tls12hello.js';

export async function makeTarget(name: TargetName): Promise<FuzzTarget> {
  switch (name) {
    case 'csr':
      return CsrTarget.create();
    case 'jwk':
      return JwkTarget.create();
    case 'ocsp':
      return new OcspTarget();
    case 'clienthello':
      return new ClientHelloTarget();
    case 'http':
      return new HttpTarget();
    case 'tls12':
      return new Tls12Target();
    case 'tls12hello':
      return new Tls12HelloTarget();
  }
}
