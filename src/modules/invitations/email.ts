/** The invitation email: plain text, the link on a line of its own so no client breaks it. */
export function invitationEmail(i: { organization: string; role: string; link: string; expiresAt: Date }) {
  const role = i.role.replace('_', ' ');
  return {
    subject: `You are invited to ${i.organization} on Gatehouse`,
    text: [
      `You have been invited to join ${i.organization} on Gatehouse as ${role}.`,
      '',
      'Accept the invitation here:',
      i.link,
      '',
      `The link works once and expires on ${i.expiresAt.toUTCString()}.`,
      "If you did not expect this invitation, you can ignore this email.",
    ].join('\n'),
  };
}
