// A real OpenID Provider for the tests: the certified `oidc-provider` package with a small configuration.
// Everything variable (port, issuer, signing keys, clients, accounts, API resource) comes from the JSON in
// OIDC_TEST_CONFIG, written by tests/support/oidc.py. Sign-in uses the package's devInteractions login
// form (any password), which the tests fill in with httpx like a browser would; consent is pre-granted.
// OIDC_PROVIDER_MODULE is the package's entry file, resolved by the harness (the repository's node_modules).
const { default: Provider } = await import(process.env.OIDC_PROVIDER_MODULE ?? 'oidc-provider');

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const accounts = cfg.accounts; // id -> extra claims (name, preferred_username, roles, groups)

function grantAll(grant, resource) {
  grant.addOIDCScope('openid profile email');
  grant.addOIDCClaims(['name', 'preferred_username', 'roles', 'groups']);
  if (resource) grant.addResourceScope(resource, 'api');
}

const configuration = {
  clients: cfg.clients,
  jwks: cfg.jwks,
  cookies: { keys: ['gridos-tests-only'] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'roles', 'groups'],
    email: ['email'],
  },
  // ID tokens carry the profile claims (roles) even when an access token is issued too, like Entra ID.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const extra = accounts[id];
    if (!extra) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...extra }; } };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grantAll(grant, cfg.resource);
    await grant.save();
    return grant;
  },
  // JWT access tokens carry the account's roles, like Entra app roles in an access token.
  async extraTokenClaims(ctx, token) {
    const extra = accounts[token.accountId];
    return extra && extra.roles ? { roles: extra.roles } : undefined;
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => cfg.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== cfg.resource) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'api',
          audience: cfg.resource,
          accessTokenTTL: cfg.accessTokenTTL || 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { AccessToken: cfg.accessTokenTTL || 300, IdToken: 300, AuthorizationCode: 60, Interaction: 300, Session: 600, Grant: 600 },
};

const provider = new Provider(cfg.issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));
const server = provider.listen(cfg.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${cfg.issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
