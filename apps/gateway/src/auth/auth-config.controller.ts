import { Controller, Get } from '@nestjs/common';
import { Public } from '@runforge/service';
import { oidcSettingsFrom, type DashboardOidc } from './oidc-tokens';

/**
 * `GET /api/auth/config`: how the dashboard may sign in before it has a credential — always with an
 * API key, and through the OIDC issuer when one is configured for it (`RUNFORGE_OIDC_CLIENT_ID`).
 * Only public values: the issuer, the dashboard's client id (a public client, no secret), scopes.
 */
@Public()
@Controller('api/auth')
export class AuthConfigController {
  private readonly oidc = oidcSettingsFrom()?.dashboard ?? null;

  @Get('config')
  config(): { apiKey: true; oidc: DashboardOidc | null } {
    return { apiKey: true, oidc: this.oidc };
  }
}
