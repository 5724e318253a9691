// @vitest-environment happy-dom
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { client, type Me } from '../../web/src/api';
import type { CatalogProvider, StoredCredential } from '../../web/src/lib/credentials';
import { CredentialForm } from '../../web/src/pages/workspace/CredentialForm';
import { MeContext } from '../../web/src/session';

// Mantine reads these browser APIs, which happy-dom leaves out.
beforeAll(() => {
  window.matchMedia ??= ((query: string) => ({ matches: false, media: query, onchange: null, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {}, dispatchEvent: () => false })) as typeof window.matchMedia;
  window.ResizeObserver ??= class { observe() {} unobserve() {} disconnect() {} } as unknown as typeof ResizeObserver;
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const twilio: CatalogProvider = {
  id: 'twilio', name: 'Twilio', description: '', uses_instance: false, test: 'GET the account',
  fields: [
    { name: 'account_sid', label: 'Account SID', secret: false, required: true },
    { name: 'auth_token', label: 'Auth token', secret: true, required: true },
  ],
};
const stored: StoredCredential = { provider: 'twilio', fields: { account_sid: 'AC123' }, secrets: { auth_token: { set: true, mask: 'abcd***wxyz' } } };
const me = (role: string): Me => ({ csrf_token: 'x', user: { id: 'usr_1', email: 'a@example.com', name: 'A', platform_admin: false, mfa_enabled: false, mfa_required: false, memberships: [{ workspace_id: 'ws_1', role }], organizations: [] } });

function renderForm(role: string) {
  return render(
    <MantineProvider>
      <QueryClientProvider client={new QueryClient()}>
        <MeContext.Provider value={me(role)}>
          <CredentialForm workspaceId="ws_1" provider={twilio} stored={stored} instances={[]} />
        </MeContext.Provider>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

describe('the credential form', () => {
  test('a stored secret: empty input, the mask beside it, and a save that leaves it out', async () => {
    const saved = { ...stored, id: 'cred_1', workspace_id: 'ws_1', name: null, instance: null, created_at: '', updated_at: '' };
    const put = vi.spyOn(client, 'PUT').mockResolvedValue({ data: saved, response: new Response(null, { status: 200 }) } as never);
    renderForm('member');
    const secret = screen.getByLabelText(/^Auth token/, { selector: 'input' }) as HTMLInputElement;
    expect(secret.value).toBe('');
    expect(secret.placeholder).toBe('leave blank to keep');
    expect(screen.getByText('Current: abcd***wxyz')).toBeTruthy();
    expect((screen.getByLabelText(/^Account SID/) as HTMLInputElement).value).toBe('AC123');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(put).toHaveBeenCalledTimes(1));
    expect(put.mock.calls[0]).toEqual(['/v1/workspaces/{id}/credentials/{provider}', { params: { path: { id: 'ws_1', provider: 'twilio' } }, body: { account_sid: 'AC123' } }]);
    await screen.findByText('Saved.');
  });

  test('read_only: the fields are disabled and there is no Save, Test connection or Delete', () => {
    renderForm('read_only');
    expect((screen.getByLabelText(/^Account SID/) as HTMLInputElement).disabled).toBe(true);
    for (const name of ['Save', 'Test connection', 'Delete']) expect(screen.queryByRole('button', { name })).toBeNull();
  });
});
