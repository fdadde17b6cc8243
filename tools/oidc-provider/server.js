// A real OpenID provider for carfin's staff single sign-on tests (BOF-01).
//
// Discovery, authorization (code flow, PKCE required), the token endpoint,
// the JWKS and ID-token signing (RS256) are the npm `oidc-provider`
// library's own. This file only configures it and answers its interaction
// pages: a tiny sign-in form (no password: whoever posts a known login is
// signed in) — the test drives it over HTTP like a browser would. Consent
// is not asked: the one client is the company's own back office, so its
// grant is made on first use (`loadExistingGrant`).
//
// Environment:
//   PORT           port on 127.0.0.1 (0: any free port)
//   ISSUER         the issuer URL (default http://127.0.0.1:PORT)
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI   the one registered client
//   ACCOUNTS       JSON array of {sub, email, name, roles}
//   ROLES_CLAIM    the claim carrying `roles` (default "roles")
//   ID_TOKEN_CLAIMS  "0": the ID token carries only `sub` (and protocol
//                  claims), the rest is at the userinfo endpoint, as some
//                  providers do; anything else: claims in the ID token too
//
// Prints `listening PORT` on stdout once ready.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(process.env.PORT || 0);
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const redirectUri = required('REDIRECT_URI');
const rolesClaim = process.env.ROLES_CLAIM || 'roles';
const idTokenClaims = process.env.ID_TOKEN_CLAIMS !== '0';
const accounts = new Map(
  JSON.parse(process.env.ACCOUNTS || '[]').map((a) => [a.sub, a]),
);

// A fresh signing key for each run: carfin must read it from the JWKS.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

function account(sub) {
  const a = accounts.get(sub);
  if (!a) return undefined;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: a.email,
        email_verified: true,
        name: a.name,
        [rolesClaim]: a.roles,
      };
    },
  };
}

function configuration(issuer) {
  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      // The roles claim comes with `profile`: carfin asks for the standard
      // scopes only.
      profile: ['name', rolesClaim],
    },
    conformIdTokenClaims: !idTokenClaims,
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    async findAccount(_ctx, sub) {
      return account(sub);
    },
    // The back office is the company's own application: no consent page.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        return ctx.oidc.provider.Grant.find(grantId);
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    ttl: {
      Session: 600,
      Interaction: 600,
      Grant: 600,
      AuthorizationCode: 60,
      AccessToken: 600,
      IdToken: 600,
    },
    async renderError(ctx, out) {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `error: ${out.error}\n${out.error_description || ''}\n`;
    },
  };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

let provider;
let handler;

// GET /interaction/:uid: the sign-in form, prefilled with the first account.
// POST /interaction/:uid/login: signs the posted login in.
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    return send(res, 400, 'text/plain', 'wrong interaction\n');
  }
  if (req.method === 'GET' && !action) {
    const first = accounts.keys().next().value || '';
    return send(
      res,
      200,
      'text/html; charset=utf-8',
      `<!doctype html><title>Company sign-in</title>
<h1>Company sign-in</h1><p>prompt: ${escapeHtml(details.prompt.name)}</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Login <input name="login" value="${escapeHtml(first)}"></label>
<button>Sign in</button></form>`,
    );
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const login = form.get('login') || '';
    if (!accounts.has(login)) {
      return send(res, 401, 'text/plain', 'unknown login\n');
    }
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: login } },
      { mergeWithLastSubmission: false },
    );
  }
  if (req.method === 'GET' && action === 'abort') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
  }
  return send(res, 404, 'text/plain', 'not found\n');
}

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  const match = path.match(/^\/interaction\/([\w-]+)(?:\/(login|abort))?$/);
  if (match) {
    interaction(req, res, match[1], match[2]).catch((error) => {
      console.error('interaction failed:', error.message);
      if (!res.headersSent) send(res, 400, 'text/plain', `${error.message}\n`);
    });
    return;
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  const issuer = process.env.ISSUER || `http://127.0.0.1:${actual}`;
  provider = new Provider(issuer, configuration(issuer));
  handler = provider.callback();
  provider.on('server_error', (_ctx, error) => console.error('server_error:', error.message));
  console.log(`listening ${actual}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
