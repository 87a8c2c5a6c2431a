/**
 * llama-swap's profile API (internal/server/apigroup.go at 0bdb372: handleAPIProfiles,
 * handleAPIActiveProfile), mounted under `/api` (behind the admin auth):
 *
 *   GET /api/profiles          {"active": name | null, "profiles": [{id, description, pins}]} (ids sorted)
 *   PUT /api/profiles/active   body {"name": "coding"} or {"name": null}: {"active": ...}
 *
 * Errors as llama-swap sends them, OpenAI-shaped: 400 for a body that is not `{"name": string|null}`,
 * 404 for an unknown profile.
 */
import express, { type Router } from 'express';
import type { GatewayConfig } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import type { ProfileSwitch } from '../lib/gateway/name-router.js';
import type { Logger } from '../lib/logger.js';

export interface ProfilesApiOptions {
  readonly config: Pick<GatewayConfig, 'profiles'>;
  readonly profiles: ProfileSwitch;
  readonly log?: Logger;
}

/**
 * The name in a `PUT /api/profiles/active` body (its text): a string, or null to deactivate. Pure.
 * Messages as llama-swap's `handleAPIActiveProfile`: Go decodes the body into a map, so an empty or
 * broken body is "invalid profile request", while `null` decodes to an empty map (no name).
 */
export function profileNameOf(text: string): string | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError('bad_request', 'invalid profile request');
  }
  if (body === null) body = {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatewayError('bad_request', 'invalid profile request');
  if (!Object.hasOwn(body, 'name')) throw new GatewayError('bad_request', 'profile name is required');
  const name = (body as { name: unknown }).name;
  if (name !== null && typeof name !== 'string') throw new GatewayError('bad_request', 'profile name must be a string or null');
  return name === '' ? null : name;
}

export function createProfilesApi(options: Readonly<ProfilesApiOptions>): Router {
  const { config, profiles, log } = options;
  const router = express.Router();

  router.get('/profiles', function listProfilesHandler(_req, res) {
    res.json({
      active: profiles.active,
      profiles: Object.keys(config.profiles)
        .sort()
        .map((id) => {
          const profile = config.profiles[id];
          return { id, description: profile?.description ?? '', pins: profile?.pins ?? {} };
        }),
    });
  });

  router.put('/profiles/active', express.text({ type: () => true }), function setActiveProfileHandler(req, res) {
    const name = profileNameOf(typeof req.body === 'string' ? req.body : '');
    if (profiles.set(name, config)) log?.info('active profile changed', { profile: name ?? '(none)' });
    res.json({ active: profiles.active });
  });

  return router;
}
