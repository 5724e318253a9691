/** What to do next for each onboarding step the API reports, and which tab does it. */

export interface OnboardingStep { id: string; label: string; done: boolean; detail: string }
export interface NextAction { text: string; tab: string; tabLabel: string }

const ACTIONS: Record<string, NextAction> = {
  credential_stored: { text: 'Fill in a provider form and press Save.', tab: 'credentials', tabLabel: 'Credentials' },
  credential_tested: { text: 'Press Test connection on a stored credential until it succeeds.', tab: 'credentials', tabLabel: 'Credentials' },
  inbound_configured: { text: 'Add an inbound source and give its receiving URL to the provider.', tab: 'inbound', tabLabel: 'Inbound' },
  inbound_received: { text: "Send an event from the provider (or its test button) to the source's receiving URL.", tab: 'inbound', tabLabel: 'Inbound' },
  first_sync: { text: 'Press Sync sender emails on the Email Bison form.', tab: 'credentials', tabLabel: 'Credentials' },
};

/** The next action for an unmet step; null for a done step or one this portal does not know. */
export function nextAction(step: OnboardingStep): NextAction | null {
  return step.done ? null : (ACTIONS[step.id] ?? null);
}

/** The link to the tab that does it, e.g. `/workspaces/ws_1/credentials`. */
export const tabLink = (workspaceId: string, tab: string) => `/workspaces/${encodeURIComponent(workspaceId)}/${tab}`;

/** The first unmet step, which the page puts forward as "next". */
export const firstOpen = (steps: OnboardingStep[]) => steps.find((s) => !s.done) ?? null;
