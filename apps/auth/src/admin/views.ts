import type { ApiKeyRecord } from '../api-keys/api-keys.repository';
import { keyStatus } from '../api-keys/api-keys.service';
import type { PolicyView } from '../policies/policy-view';
import type { User } from '../users/users.repository';

export interface UserView {
  id: string;
  name: string;
  createdAt: string;
}

export interface KeyView {
  id: string;
  userId: string;
  userName: string;
  name: string;
  display: string;
  status: 'active' | 'revoked' | 'expired';
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  rotatedFrom: string | null;
}

export const userView = (u: User): UserView => ({ id: u.id, name: u.name, createdAt: u.createdAt.toISOString() });

export const keyView = (k: ApiKeyRecord): KeyView => ({
  id: k.id,
  userId: k.userId,
  userName: k.userName,
  name: k.name,
  display: k.display,
  status: keyStatus(k),
  createdAt: k.createdAt.toISOString(),
  expiresAt: k.expiresAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
  rotatedFrom: k.rotatedFrom,
});

export const keyDetail = (k: ApiKeyRecord, policy: PolicyView) => ({ ...keyView(k), policy });
